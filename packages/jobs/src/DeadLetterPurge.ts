/**
 * An operator's purge of dead letters: deletes the unreplayed dead letters a filter matches
 * (optionally only those dead-lettered more than `olderThan` ago), for good. A dead letter a
 * pending or running bulk replay may still replay is kept, as the pruner keeps it; replayed
 * dead letters are the pruner's (their retention), not a purge's. A dry run counts and writes
 * nothing; a purge writes one audit row in `redrive.dlq_purge` (who, why, the filter, how many)
 * before it deletes, and deletes in batches, each its own statement adding its count to the
 * audit row. The error groups' counters follow through job_dlq's delete trigger.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DatabaseError as DbError, DlqFilter, DlqFilterSql, Input } from "@redrive/database"
import { Context, Duration, Effect, Layer, type ParseResult, Schema } from "effect"
import * as PurgeSql from "./internal/purgeSql.js"

type DatabaseError = DbError.DatabaseError
type InvalidRow = DbError.InvalidRow

export interface PurgeInput {
  readonly filter: DlqFilter.DlqFilterInput
  /** Only dead letters dead-lettered longer ago than this (a Duration input: `"30 days"`, millis). */
  readonly olderThan?: Duration.DurationInput | undefined
  /** Count what would be deleted; delete nothing, audit nothing (default false). */
  readonly dryRun?: boolean | undefined
  /** Who purges (a user, an API key name): audited. */
  readonly by: string
  readonly reason?: string | undefined
}

export interface PurgeResult {
  /** Dead letters that match (dry run) or were deleted. */
  readonly count: number
  readonly dryRun: boolean
  /** The `dlq_purge` audit row; null for a dry run. */
  readonly auditId: number | null
}

export interface PurgeOptions {
  /** Dead letters one statement deletes at most (default 5,000). */
  readonly batchSize?: number
}

const Request = Schema.Struct({
  filter: DlqFilter.DlqFilter,
  by: Schema.String.pipe(Schema.filter((s) => s.trim().length > 0 || "must not be empty"), Schema.maxLength(256)),
  reason: Schema.optional(Schema.String.pipe(Schema.maxLength(2000)))
})
const decodeRequest = Input.decode(Request, "")
const encodeFilter = Schema.encode(DlqFilter.DlqFilter)
const decodeCount = Schema.decodeUnknown(Schema.Array(Schema.Struct({ count: Schema.Int })))
const decodeDeleted = Schema.decodeUnknown(Schema.Array(Schema.Struct({ deleted: Schema.Int })))
const decodeId = Schema.decodeUnknown(Schema.Array(Schema.Struct({ id: Schema.NumberFromString })))

/** A Duration input at the boundary: a positive, finite duration, else InvalidInput naming `olderThan`. */
const olderThanMillis = (input: Duration.DurationInput | undefined) => {
  if (input === undefined) return Effect.succeed(null)
  const decoded = Duration.decodeUnknown(input)
  const ms = decoded._tag === "Some" ? Duration.toMillis(decoded.value) : Number.NaN
  return Number.isFinite(ms) && ms >= 1
    ? Effect.succeed(Math.round(ms))
    : Effect.fail(new Input.InvalidInput({ field: "olderThan", message: "olderThan: expected a positive duration such as \"30 days\"" }))
}

export class DeadLetterPurge extends Context.Tag("@redrive/jobs/DeadLetterPurge")<DeadLetterPurge, {
  readonly purge: (input: PurgeInput) => Effect.Effect<PurgeResult, Input.InvalidInput | DatabaseError | InvalidRow>
}>() {}

export const make = (options: PurgeOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const limit = options.batchSize ?? 5000
    if (!Number.isInteger(limit) || limit < 1) return yield* Effect.dieMessage("DeadLetterPurge: batchSize must be a positive integer")

    const rows = <A>(
      statement: Effect.Effect<ReadonlyArray<object>, SqlError>,
      decode: (rows: ReadonlyArray<object>) => Effect.Effect<ReadonlyArray<A>, ParseResult.ParseError>
    ) => statement.pipe(Effect.flatMap(decode), Effect.mapError(DbError.fromSqlError("DeadLetterPurge.purge")))

    const purge = Effect.fn("DeadLetterPurge.purge")(function*(input: PurgeInput) {
      const request = yield* decodeRequest({ filter: input.filter, by: input.by, reason: input.reason })
      const olderThanMs = yield* olderThanMillis(input.olderThan)
      const target = { clauses: DlqFilterSql.clauses(sql, request.filter), olderThanMs }
      if (input.dryRun === true) {
        const [counted] = yield* rows(PurgeSql.count(sql, target), decodeCount)
        return { count: counted?.count ?? 0, dryRun: true, auditId: null } satisfies PurgeResult
      }
      const filterJson = JSON.stringify(yield* encodeFilter(request.filter).pipe(Effect.mapError(DbError.fromSqlError("DeadLetterPurge.purge"))))
      const [audit] = yield* rows(
        PurgeSql.open(sql, {
          tenantId: request.filter.tenantId ?? "*",
          filterJson,
          olderThanMs,
          by: request.by,
          reason: request.reason ?? null
        }),
        decodeId
      )
      if (audit === undefined) return yield* Effect.dieMessage("dlq_purge insert returned no row")
      yield* Effect.annotateCurrentSpan("auditId", audit.id)
      let deleted = 0
      for (;;) {
        const [batch] = yield* rows(PurgeSql.batch(sql, audit.id, target, limit), decodeDeleted)
        deleted += batch?.deleted ?? 0
        if ((batch?.deleted ?? 0) < limit) break
      }
      yield* rows(PurgeSql.close(sql, audit.id), () => Effect.succeed([]))
      return { count: deleted, dryRun: false, auditId: audit.id } satisfies PurgeResult
    })

    return DeadLetterPurge.of({ purge })
  })

export const layer = (options: PurgeOptions = {}) => Layer.effect(DeadLetterPurge, make(options))
