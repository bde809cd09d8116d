/**
 * Enqueueing jobs: one, or many in one statement. Runs on the ambient SqlClient, so inside the
 * caller's `sql.withTransaction` the jobs commit or roll back with the caller's own writes (and
 * the workers' wake-up is delivered at COMMIT). Payloads are checked with the job's Schema
 * first: a ParseError names the field and nothing is written.
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError, Ids, LibrarySpan, PreparedStatement } from "@redrive/database"
import { Effect, Metric, Schema } from "effect"
import { ArrayFormatter, type ParseError } from "effect/ParseResult"
import * as JobSql from "./internal/JobSql.js"
import type { AnyJobDefinition, JobDefinition } from "./JobDefinition.js"
import * as Limits from "./Limits.js"
import * as TraceContext from "./internal/traceContext.js"
import * as Metrics from "./Metrics.js"

export interface EnqueueOptions {
  readonly tenantId?: string
  readonly priority?: number
  /** When the job may run first; default now. */
  readonly runAt?: Date
  readonly maxAttempts?: number
  /** A second enqueue with this key, while the first job is unfinished, returns the first job's id. */
  readonly idempotencyKey?: string
  readonly requestId?: string
  readonly userId?: string
}

export interface EnqueueManyOptions extends Omit<EnqueueOptions, "idempotencyKey"> {
  /** One key (or undefined) per payload. */
  readonly idempotencyKeys?: ReadonlyArray<string | undefined>
}

/** A payload, or a batch's total, over its byte limit (see Limits); nothing was written. */
export const PayloadTooLarge = Limits.PayloadTooLarge
export type PayloadTooLarge = Limits.PayloadTooLarge

/** An enqueue option that is out of range (names the option). */
export class InvalidEnqueueOption extends Schema.TaggedError<InvalidEnqueueOption>()("Redrive/InvalidEnqueueOption", {
  field: Schema.String,
  message: Schema.String
}) {}

/**
 * What an enqueue did for one payload. `deduplicated: true`: an unfinished job of the same
 * tenant and queue already held the idempotency key (or an earlier payload of the same batch
 * did), so nothing was inserted, `id` is that job's id, and this payload was dropped: the
 * first payload wins, as with River's unique jobs and pg-boss's singleton keys. Enqueue again
 * with a new key (or after the first job finished) to run a changed payload.
 */
export interface Enqueued {
  readonly id: Ids.JobId
  readonly deduplicated: boolean
}

export type EnqueueError = ParseError | PayloadTooLarge | InvalidEnqueueOption | DbError.DatabaseError | DbError.InvalidRow

const OptionsSchema = Schema.Struct({
  // A real tenant, or none: work enqueued without one belongs to the reserved `default`.
  tenantId: Schema.NullOr(Ids.TenantId),
  priority: Ids.Priority,
  maxAttempts: Schema.Int.pipe(Schema.between(1, 1000)),
  requestId: Schema.NullOr(Schema.String.pipe(Schema.maxLength(200))),
  userId: Schema.NullOr(Schema.String.pipe(Schema.maxLength(200)))
})

const decodeOptions = Schema.decodeUnknown(OptionsSchema)

const decodeChecked = (options: typeof OptionsSchema.Encoded) =>
  decodeOptions(options).pipe(
    Effect.map((decoded) => ({ ...decoded, tenantId: decoded.tenantId ?? Ids.DefaultTenant })),
    Effect.mapError((e) => {
      const path = ArrayFormatter.formatErrorSync(e)[0]?.path ?? []
      return new InvalidEnqueueOption({ field: path.map(String).join(".") || "options", message: e.message })
    })
  )
type CheckedOptions = Effect.Effect.Success<ReturnType<typeof decodeChecked>>

/** A definition's own defaults, once checked: most enqueues pass no options and skip the decode. */
const defaultsChecked = new WeakMap<object, CheckedOptions>()

const checkOptions = (definition: Pick<AnyJobDefinition, "priority" | "retry">, o: EnqueueOptions) => {
  const defaults = o.tenantId === undefined && o.priority === undefined && o.maxAttempts === undefined &&
    o.requestId === undefined && o.userId === undefined
  const known = defaults ? defaultsChecked.get(definition) : undefined
  if (known !== undefined) return Effect.succeed(known)
  const checked = decodeChecked({
    tenantId: o.tenantId ?? null,
    priority: o.priority ?? definition.priority,
    maxAttempts: o.maxAttempts ?? definition.retry.maxAttempts,
    requestId: o.requestId ?? null,
    userId: o.userId ?? null
  })
  return defaults ? Effect.tap(checked, (c) => Effect.sync(() => defaultsChecked.set(definition, c))) : checked
}

/** `fieldOf` names a payload in a PayloadTooLarge. */
const insert = <A, I>(
  definition: JobDefinition<A, I>,
  payloads: ReadonlyArray<A>,
  options: EnqueueManyOptions,
  fieldOf: (index: number) => string
): Effect.Effect<ReadonlyArray<Enqueued>, EnqueueError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    if (payloads.length === 0) return []
    const keys = options.idempotencyKeys
    if (keys !== undefined && keys.length !== payloads.length) {
      return yield* new InvalidEnqueueOption({
        field: "idempotencyKeys",
        message: `expected ${payloads.length} keys (one per payload), got ${keys.length}`
      })
    }
    const checked = yield* checkOptions(definition, options)
    const encoded = yield* definition.encodePayloads(payloads)
    const json = JSON.stringify(encoded)
    const limits = yield* Limits.Current
    // The batch's JSON holds every payload: under the per-job limit, no payload can be over it.
    // A UTF-16 unit is at most 3 UTF-8 bytes, so most batches skip counting bytes at all.
    const under = Math.min(limits.payloadBytes, limits.batchBytes)
    if (json.length * 3 > under && Limits.byteLength(json) > under) {
      // Only on the slow path: find the offending payload to name it.
      for (let i = 0; i < encoded.length; i++) {
        yield* Limits.checkBytes(fieldOf(i), JSON.stringify(encoded[i]), limits.payloadBytes)
      }
      yield* Limits.checkBytes("payloads", json, limits.batchBytes)
    }
    const sql = yield* SqlClient.SqlClient
    const hasKeys = keys !== undefined && keys.some((k) => k !== undefined)
    const job = {
      tenantId: checked.tenantId,
      queue: definition.queue,
      type: definition.name,
      priority: checked.priority,
      maxAttempts: checked.maxAttempts,
      runAt: options.runAt ?? null,
      requestId: checked.requestId,
      userId: checked.userId,
      // This span (a child of the caller's): the run span continues its trace.
      traceContext: yield* TraceContext.current
    }
    // Prepared where it can be (outside a transaction or tenant block): parsed and planned once
    // per connection. One job (most enqueues) has a statement of its own, a plain VALUES insert.
    const statement = encoded.length === 1
      ? PreparedStatement.execute("redrive_enqueue_one", JobSql.insertOne(sql, {
        ...job,
        // The batch's JSON is `[payload]`: the payload's JSON is inside the brackets.
        payload: json.slice(1, -1),
        idempotencyKey: hasKeys ? keys[0] ?? null : null
      }))
      : PreparedStatement.execute("redrive_enqueue", JobSql.insertBatch(sql, {
        ...job,
        payloads: json,
        idempotencyKeys: hasKeys ? keys.map((k) => k ?? null) : []
      }))
    const rows = yield* statement.pipe(Effect.mapError(DbError.fromSqlError("Enqueue.many")))
    yield* Metric.incrementBy(Metrics.enqueued(definition.queue, definition.name), rows.length)
    // Identity values: branded without validating each again.
    if (!hasKeys) return rows.map((r): Enqueued => ({ id: Ids.JobId.make(Number(r.id), true), deduplicated: false }))
    // Keyed jobs: map each key to the job that holds it (inserted now, or already there).
    const byKey = new Map<string, number>()
    const inserted = new Set<string>()
    const unkeyed: Array<number> = []
    for (const r of rows) {
      if (r.idempotencyKey === null) unkeyed.push(Number(r.id))
      else {
        byKey.set(r.idempotencyKey, Number(r.id))
        inserted.add(r.idempotencyKey)
      }
    }
    const missing = [...new Set(keys.filter((k): k is string => k !== undefined && !byKey.has(k)))]
    if (missing.length > 0) {
      const existing = yield* JobSql.findByIdempotencyKeys(sql, checked.tenantId, definition.queue, missing).pipe(
        Effect.mapError(DbError.fromSqlError("Enqueue.many"))
      )
      for (const r of existing) byKey.set(r.idempotencyKey, Number(r.id))
    }
    let next = 0
    const results: Array<Enqueued> = []
    for (const key of keys) {
      const id = key === undefined ? unkeyed[next++] : byKey.get(key)
      if (id === undefined) {
        // The key's holder finished between our insert and our lookup: the caller may retry.
        return yield* new DbError.DatabaseError({
          operation: "Enqueue.many",
          message: `idempotency key ${key ?? ""} is held by a job that is no longer visible; retry`
        })
      }
      // The first payload of a key inserted now is the job; any other one was deduplicated.
      const fresh = key === undefined || inserted.delete(key)
      results.push({ id: Ids.JobId.make(id, true), deduplicated: !fresh })
    }
    return results
  }).pipe(LibrarySpan.withSpan("Enqueue.many", { attributes: { type: definition.name, count: payloads.length } }))

/**
 * Enqueues many jobs of one type in one statement; returns one `Enqueued` per payload, in input
 * order. A payload whose idempotency key is already held by an unfinished job gets that job's id
 * and `deduplicated: true`, and is not inserted.
 */
export const many = <A, I>(
  definition: JobDefinition<A, I>,
  payloads: ReadonlyArray<A>,
  options: EnqueueManyOptions = {}
): Effect.Effect<ReadonlyArray<Enqueued>, EnqueueError, SqlClient.SqlClient> =>
  insert(definition, payloads, options, (i) => `payloads[${i}]`)

/** The ids of a batch's results, in input order. */
export const ids = (results: ReadonlyArray<Enqueued>): ReadonlyArray<Ids.JobId> => results.map((r) => r.id)

/**
 * Enqueues one job; returns its id and whether it was deduplicated (its idempotency key is held
 * by an unfinished job: that job's id, and this payload was not inserted).
 */
export const one = <A, I>(
  definition: JobDefinition<A, I>,
  payload: A,
  options: EnqueueOptions = {}
): Effect.Effect<Enqueued, EnqueueError, SqlClient.SqlClient> => {
  const { idempotencyKey, ...rest } = options
  return Effect.map(
    insert(
      definition,
      [payload],
      idempotencyKey === undefined ? rest : { ...rest, idempotencyKeys: [idempotencyKey] },
      () => "payload"
    ),
    (results) => results[0]!
  )
}
