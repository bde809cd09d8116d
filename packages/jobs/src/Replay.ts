/**
 * Replay of dead letters. `replayOne` turns one dead letter into a new `available` job linked
 * by `replay_of`, carrying its history plus a `replayed` entry; it is idempotent (a second
 * call returns the same job). A bulk replay is a durable `replay_request`: a snapshot of what
 * matches when it is created, replayed in batches under a lease, so a crashed run is resumed
 * by the next runner and no dead letter is ever replayed twice.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DatabaseError as DbError, DlqFilter, ErrorHistory, Ids, Input, ReplayRequest as RR, Tenant } from "@redrive/database"
import {
  Cause,
  Clock,
  Config,
  Context,
  Data,
  Duration,
  Effect,
  Exit,
  FiberRef,
  Layer,
  Metric,
  Option,
  ParseResult,
  Schema
} from "effect"
import * as ReplaySql from "./internal/replaySql.js"
import { JobRegistry } from "./JobRegistry.js"
import * as Limits from "./Limits.js"
import * as Metrics from "./Metrics.js"
import * as Notify from "./Notify.js"
import { InvalidPayload, UnknownJobType, ReplayRequestNotFound, ReplayRequestConflict, InvalidBulkReplay } from "./OperationErrors.js"
export { InvalidPayload, UnknownJobType, ReplayRequestNotFound, ReplayRequestConflict, InvalidBulkReplay } from "./OperationErrors.js"

const { DeadLetterNotFound } = DbError
type DeadLetterNotFound = DbError.DeadLetterNotFound
type DatabaseError = DbError.DatabaseError
type InvalidRow = DbError.InvalidRow
type ReplayRequest = RR.ReplayRequest

export interface ReplayOneInput {
  /** The dead letter's id: `3` or `"3"` (a bad one is InvalidInput naming `id`). */
  readonly id: number | string
  /** Who replays (a user, an API key name): recorded in `replayed_by` and the history entry. */
  readonly by: string
  /**
   * An edited payload, validated with the job type's Schema and stored in its encoded form;
   * over the per-job byte limit (Limits.payloadBytes) it is refused with PayloadTooLarge.
   */
  readonly payload?: unknown
}

export interface ReplayOneResult {
  readonly jobId: Ids.JobId
  /** false when the dead letter had been replayed already: `jobId` is that replay's job. */
  readonly created: boolean
}

export const BulkReplay = Schema.Struct({
  /** Client idempotency key: creating the same id again returns the existing request. */
  id: Schema.optional(Ids.ReplayRequestId),
  filter: DlqFilter.DlqFilter,
  /** The tenant whose dead letters are replayed, or `*` for every tenant (admins only). */
  scopeTenant: Schema.Union(Schema.Literal("*"), Ids.TenantId),
  /** Count what matches without replaying anything (default false). */
  dryRun: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  ratePerSec: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000))),
  requestedBy: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))
})
export type BulkReplay = typeof BulkReplay.Type
/** A bulk replay as callers write it: plain strings, numbers and dates. */
export type BulkReplayInput = typeof BulkReplay.Encoded

/** How a `runBulk` call ended. A failure is not an outcome: the request is marked `failed` and the error raised. */
export type BulkRun = Data.TaggedEnum<{
  /** Every matching dead letter has been replayed. */
  Done: { readonly request: ReplayRequest }
  Cancelled: { readonly request: ReplayRequest }
  /** Another runner holds a live lease, or the request had already ended: nothing was done. */
  NotClaimed: { readonly request: ReplayRequest }
  /** Another runner took the request over (our lease had expired): this run stopped. */
  LeaseLost: { readonly request: ReplayRequest }
}>
export const BulkRun = Data.taggedEnum<BulkRun>()

export interface ReplayOptions {
  /**
   * Dead letters per batch statement (default 5000); a rate limit lowers it to `ratePerSec`.
   * Each statement also pays for its scan window and the error-group trigger, whatever its size:
   * at 500 a bulk replay of 100,000 took 6.4 s, at 5000 3.7 s (bench:dlq, 1,000,000 dead letters).
   */
  readonly batchSize?: number
  /** How long a runner owns a request without finishing a batch (default 1 minute). */
  readonly lease?: Duration.DurationInput
  /** History cap (default ErrorHistory.defaultCap). */
  readonly historyCap?: number
  /**
   * Dead-letter ids a batch statement examines (default: 4 batches' worth, at least 2000); after a
   * statement that found less than half a batch, the next one examines twice as many, up to 8 times this.
   */
  readonly scanWindow?: number
}

export class Replay extends Context.Tag("@redrive/jobs/Replay")<Replay, {
  readonly replayOne: (
    input: ReplayOneInput
  ) => Effect.Effect<
    ReplayOneResult,
    | DeadLetterNotFound
    | InvalidPayload
    | Limits.PayloadTooLarge
    | UnknownJobType
    | Input.InvalidInput
    | DatabaseError
    | InvalidRow
  >
  readonly createBulk: (
    input: BulkReplayInput
  ) => Effect.Effect<ReplayRequest, InvalidBulkReplay | ReplayRequestConflict | DatabaseError | InvalidRow>
  /** A request by id (a UUID string; a bad one is InvalidInput naming `id`). */
  readonly get: (
    id: string
  ) => Effect.Effect<ReplayRequest, ReplayRequestNotFound | Input.InvalidInput | DatabaseError | InvalidRow>
  /** pending/running → cancelled; a request that already ended is returned unchanged. */
  readonly cancel: (
    id: string
  ) => Effect.Effect<ReplayRequest, ReplayRequestNotFound | Input.InvalidInput | DatabaseError | InvalidRow>
  /** Claims the request and replays it batch by batch until done, cancelled or taken over. */
  readonly runBulk: (
    id: Ids.ReplayRequestId,
    workerId: string
  ) => Effect.Effect<BulkRun, ReplayRequestNotFound | DatabaseError | InvalidRow>
  /** The oldest request waiting for a runner: pending, or running under an expired lease. */
  readonly nextRunnable: Effect.Effect<Option.Option<Ids.ReplayRequestId>, DatabaseError | InvalidRow>
}>() {}


const firstIssue = (error: ParseResult.ParseError) => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = (issue?.path ?? []).flatMap((k) => typeof k === "symbol" ? [] : [k])
  return { path, message: issue?.message ?? error.message }
}

const ReplayOneRow = Schema.Struct({ dlqId: Ids.DlqId, jobId: Ids.JobId, created: Schema.Boolean })
const BatchRow = Schema.Struct({
  state: RR.ReplayRequestState,
  replayed: Schema.NumberFromString,
  batchReplayed: Schema.NumberFromString,
  candidates: Schema.NumberFromString,
  lastCandidate: Schema.NullOr(Schema.NumberFromString),
  scanned: Schema.NumberFromString,
  lastScanned: Schema.NullOr(Schema.NumberFromString)
})
/** The key of a claimed request (ids are unique per tenant), read apart from the rest of the row. */
const decodeKeys = Schema.decodeUnknown(Schema.Array(Schema.Struct({ tenantId: RR.ReplayRequest.fields.tenantId })))
const decodeRequests = Schema.decodeUnknown(Schema.Array(RR.ReplayRequest))
const decodeOne = Schema.decodeUnknown(Schema.Array(ReplayOneRow))
const decodeBatch = Schema.decodeUnknown(Schema.Array(BatchRow))
const decodeType = Schema.decodeUnknown(Schema.Array(Schema.Struct({ type: Schema.String })))
const decodeIds = Schema.decodeUnknown(Schema.Array(Schema.Struct({ id: Ids.ReplayRequestId })))
const decodeBulk = Schema.decodeUnknown(BulkReplay)
const decodeDlqId = Input.decode(Ids.DlqIdInput, "id")
const decodeRequestId = Input.decode(Ids.ReplayRequestId, "id")
const encodeFilter = Schema.encode(DlqFilter.DlqFilter)

const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return text.slice(0, 2000)
}

const defaultBatchSize = 5000
/** The first batch of a bulk run (slow start); later ones double up to the batch size. */
const firstBatch = 250

export const make = (options: ReplayOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const registry = yield* JobRegistry
    const batchSize = options.batchSize ?? defaultBatchSize
    const leaseMs = Duration.toMillis(Duration.decode(options.lease ?? "1 minute"))
    const cap = options.historyCap ?? ErrorHistory.defaultCap
    const isPositiveInt = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 1)
    if (!isPositiveInt(batchSize) || !isPositiveInt(options.scanWindow)) {
      return yield* Effect.dieMessage("Replay: batchSize and scanWindow must be positive integers")
    }

    /** Runs a statement and decodes its rows, mapping failures to the database package's typed errors. */
    const rows = <A>(
      operation: string,
      statement: Effect.Effect<ReadonlyArray<object>, SqlError>,
      decode: (rows: ReadonlyArray<object>) => Effect.Effect<ReadonlyArray<A>, ParseResult.ParseError>
    ) => statement.pipe(Effect.flatMap(decode), Effect.mapError(DbError.fromSqlError(operation)))

    const validatePayload = Effect.fn("Replay.validatePayload")(function*(id: Ids.DlqId, payload: unknown) {
      const found = yield* rows("Replay.replayOne", ReplaySql.deadLetterType(sql, id), decodeType)
      const type = found[0]?.type
      if (type === undefined) return yield* new DeadLetterNotFound({ id })
      const definition = registry.get(type)
      if (Option.isNone(definition)) return yield* new UnknownJobType({ type })
      const invalid = (path: ReadonlyArray<string | number>, message: string) =>
        new InvalidPayload({ type, field: path.length === 0 ? "payload" : path.join("."), path, message })
      const stored = yield* definition.value.normalizePayload(payload).pipe(
        Effect.mapError((e) => {
          const issue = firstIssue(e)
          return invalid(issue.path, issue.message)
        })
      )
      const json = JSON.stringify(stored) as string | undefined
      if (json === undefined) return yield* invalid([], "the payload is not a JSON value")
      // The limit an enqueue of this payload would meet, checked before the dead letter is touched.
      yield* Limits.checkBytes("payload", json, (yield* Limits.Current).payloadBytes)
      return json
    })

    const replayOne = Effect.fn("Replay.replayOne")(function*(input: ReplayOneInput) {
      const id = yield* decodeDlqId(input.id)
      yield* Effect.annotateCurrentSpan("dlqId", id)
      const payloadJson = input.payload === undefined ? null : yield* validatePayload(id, input.payload)
      // A tenant may replay its dead letters but not write job_dlq itself: the statement runs as
      // the runtime, pinned to the tenant.
      const [row] = yield* Tenant.onRuntime((tenant) =>
        rows(
          "Replay.replayOne",
          ReplaySql.replayOne(sql, {
            id,
            tenantId: Option.getOrNull(tenant),
            by: input.by,
            payloadJson,
            cap,
            channel: Notify.channel
          }),
          decodeOne
        )
      )
      if (row === undefined) return yield* new DeadLetterNotFound({ id })
      if (row.created) yield* Metric.increment(Metric.tagged(Metrics.replaysTotal, "mode", "one"))
      return { jobId: row.jobId, created: row.created } satisfies ReplayOneResult
    })

    const find = (id: Ids.ReplayRequestId, scope: Ids.TenantId | "*" | null) =>
      Effect.flatMap(
        rows("Replay.get", ReplaySql.findRequest(sql, id, scope), decodeRequests),
        ([request]) => request === undefined ? Effect.fail(new ReplayRequestNotFound({ id })) : Effect.succeed(request)
      )

    const get = Effect.fn("Replay.get")(function*(input: string) {
      return yield* find(yield* decodeRequestId(input), null)
    })

    const createBulk = Effect.fn("Replay.createBulk")(function*(input: BulkReplayInput) {
      const valid = yield* decodeBulk(input).pipe(
        Effect.mapError((e) => {
          const issue = firstIssue(e)
          return new InvalidBulkReplay({ field: issue.path.join(".") || "request", message: issue.message })
        })
      )
      const filterJson = JSON.stringify(
        yield* encodeFilter(valid.filter).pipe(
          Effect.mapError((e) => new InvalidBulkReplay({ field: ["filter", ...firstIssue(e).path].join("."), message: e.message }))
        )
      )
      const tenant = yield* FiberRef.get(Tenant.currentTenant)
      if (Option.isSome(tenant) && valid.scopeTenant !== tenant.value) {
        return yield* new InvalidBulkReplay({
          field: "scopeTenant",
          message: `a request made as tenant ${JSON.stringify(tenant.value)} covers that tenant only`
        })
      }
      const [created] = yield* Tenant.onRuntime(() =>
        rows(
          "Replay.createBulk",
          ReplaySql.createBulk(sql, {
            id: valid.id ?? null,
            scope: valid.scopeTenant,
            filterJson,
            dryRun: valid.dryRun,
            ratePerSec: valid.ratePerSec ?? null,
            requestedBy: valid.requestedBy
          }),
          decodeRequests
        )
      )
      if (created !== undefined) {
        yield* Effect.annotateCurrentSpan("replayRequestId", created.id)
        return created
      }
      // The id exists already for this scope: the same request again returns it (idempotent
      // create). Ids are unique per tenant, so another tenant's request never answers here.
      const id = valid.id
      if (id === undefined) return yield* Effect.dieMessage("a generated replay request id collided")
      return yield* find(id, valid.scopeTenant).pipe(
        Effect.catchTag("Redrive/ReplayRequestNotFound", () => Effect.fail(new ReplayRequestConflict({ id })))
      )
    })

    const cancel = Effect.fn("Replay.cancel")(function*(input: string) {
      const id = yield* decodeRequestId(input)
      const [cancelled] = yield* Tenant.onRuntime((tenant) =>
        rows("Replay.cancel", ReplaySql.cancel(sql, id, Option.getOrNull(tenant)), decodeRequests)
      )
      if (cancelled === undefined) return yield* get(id)
      yield* Metric.increment(Metric.tagged(Metrics.replayRequestsTotal, "state", "cancelled"))
      return cancelled
    })

    const runBatches = (request: ReplayRequest, workerId: string) =>
      Effect.gen(function*() {
        const rate = request.ratePerSec
        const limit = rate === null ? batchSize : Math.min(batchSize, rate)
        const baseWindow = options.scanWindow ?? Math.max(4 * limit, 2000)
        let window = baseWindow
        let afterId = 0
        // Slow start: the first batch is small and each one doubles up to the limit, so the first
        // replayed jobs are queued (and run) while the rest of the request is still being replayed.
        let take = Math.min(limit, firstBatch)
        while (true) {
          const started = yield* Clock.currentTimeMillis
          const [batch] = yield* rows(
            "Replay.runBulk",
            ReplaySql.replayBatch(sql, {
              requestId: request.id,
              workerId,
              scope: request.tenantId,
              filter: request.filter,
              maxDlqId: request.maxDlqId,
              afterId,
              window,
              limit: take,
              by: request.requestedBy,
              cap,
              leaseMs,
              channel: Notify.channel
            }),
            decodeBatch
          )
          // No row: the request was cancelled, or another runner holds it now.
          if (batch === undefined) return
          yield* Metric.increment(Metrics.replayBatchesTotal)
          yield* Metric.incrementBy(Metric.tagged(Metrics.replaysTotal, "mode", "bulk"), batch.batchReplayed)
          if (batch.state === "done") return
          // A full batch may have left matches in the rows it scanned: continue after its last
          // candidate; otherwise after the last row scanned.
          const next = batch.candidates < take ? batch.lastScanned : batch.lastCandidate
          if (next === null) return
          afterId = next
          // Where few rows match (a narrow filter, or the stretch of ids past its last match), the
          // next statement scans twice as far, up to 8 windows: fewer statements for the same rows.
          window = batch.candidates < take / 2 ? Math.min(window * 2, 8 * baseWindow) : baseWindow
          take = Math.min(limit, take * 2)
          if (rate !== null && batch.batchReplayed > 0) {
            const wait = (batch.batchReplayed * 1000) / rate - ((yield* Clock.currentTimeMillis) - started)
            if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
          }
        }
      })

    const runBulk = Effect.fn("Replay.runBulk")(function*(id: Ids.ReplayRequestId, workerId: string) {
      yield* Effect.annotateCurrentSpan({ replayRequestId: id, workerId })
      const claimed = yield* rows("Replay.runBulk", ReplaySql.claim(sql, id, workerId, leaseMs), Effect.succeed)
      const [key] = yield* rows("Replay.runBulk", Effect.succeed(claimed), decodeKeys)
      if (key === undefined) return BulkRun.NotClaimed({ request: yield* find(id, null) })
      const scope = key.tenantId
      // From here the request is ours: whatever happens (even a stored filter that no longer
      // decodes) ends in `failed`, or hands the request back when interrupted.
      yield* rows("Replay.runBulk", Effect.succeed(claimed), decodeRequests).pipe(
        Effect.flatMap(([request]) => request === undefined ? Effect.void : runBatches(request, workerId)),
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Effect.void
            : Cause.isInterruptedOnly(exit.cause)
            ? Effect.ignoreLogged(ReplaySql.release(sql, id, scope, workerId))
            : ReplaySql.markFailed(sql, id, scope, workerId, describe(exit.cause)).pipe(
              Effect.zipRight(Metric.increment(Metric.tagged(Metrics.replayRequestsTotal, "state", "failed"))),
              Effect.ignoreLogged
            )
        )
      )
      const request = yield* find(id, scope)
      if (request.state === "done") {
        yield* Metric.increment(Metric.tagged(Metrics.replayRequestsTotal, "state", "done"))
        return BulkRun.Done({ request })
      }
      return request.state === "cancelled" ? BulkRun.Cancelled({ request }) : BulkRun.LeaseLost({ request })
    })

    const nextRunnable = rows("Replay.nextRunnable", ReplaySql.nextRunnable(sql), decodeIds).pipe(
      Effect.map((found) => Option.fromNullable(found[0]?.id)),
      Effect.withSpan("Replay.nextRunnable")
    )

    return Replay.of({ replayOne, createBulk, get, cancel, runBulk, nextRunnable })
  })

/** Needs SqlClient and JobRegistry. */
export const layer = (options: ReplayOptions = {}) => Layer.effect(Replay, make(options))

/** REDRIVE_REPLAY_BATCH_SIZE (default 5000) and REDRIVE_REPLAY_LEASE (default 1 minute). */
export const layerConfig = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      batchSize: Config.integer("REDRIVE_REPLAY_BATCH_SIZE").pipe(
        Config.validate({ message: "REDRIVE_REPLAY_BATCH_SIZE must be between 1 and 10000", validation: (n) => n >= 1 && n <= 10_000 }),
        Config.withDefault(defaultBatchSize)
      ),
      lease: Config.duration("REDRIVE_REPLAY_LEASE").pipe(Config.withDefault(Duration.minutes(1)))
    }),
    layer
  )
)
