/**
 * Operator commands on one job: look it up (through the repositories), cancel it, run it now
 * (one statement each, in internal/JobSql.ts), rerun a finished one (internal/rerunSql.ts). All run on the ambient SqlClient, so under
 * `Tenant.withTenant` row-level security decides what the caller can see and touch: another
 * tenant's job is simply not found.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import {
  DatabaseError as DbError,
  ErrorHistory,
  Ids,
  Input,
  Job as JobModel,
  JobDlq as JobDlqModel,
  JobDlqRepo,
  JobRepo,
  Tenant
} from "@redrive/database"
import { Context, Effect, Layer, Metric, Option, ParseResult, Schema } from "effect"
import * as JobSql from "./internal/JobSql.js"
import * as RerunSql from "./internal/rerunSql.js"
import { JobRegistry } from "./JobRegistry.js"
import * as Limits from "./Limits.js"
import * as Metrics from "./Metrics.js"
import * as Notify from "./Notify.js"
import { InvalidPayload, UnknownJobType } from "./Replay.js"
import { CancelResult, RetryNowResult } from "./JobCommandResults.js"
import { JobNotFound, JobRunning, JobAlreadyFinished } from "./OperationErrors.js"
export { CancelResult, Reason, RetryNowResult } from "./JobCommandResults.js"
export { JobNotFound, JobRunning, JobAlreadyFinished } from "./OperationErrors.js"

type DatabaseError = DbError.DatabaseError
type InvalidRow = DbError.InvalidRow
type DeadLetterNotFound = DbError.DeadLetterNotFound

/** What a command addresses: a live job or a dead letter. */
export const Target = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("job"), id: Ids.JobId }),
  Schema.Struct({ kind: Schema.Literal("dead_letter"), id: Ids.DlqId })
)
export type Target = typeof Target.Type

/** A target as callers write it: `{ kind: "job", id: 3 }` (or `"3"`). */
export const TargetInput = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("job"), id: Ids.JobIdInput }),
  Schema.Struct({ kind: Schema.Literal("dead_letter"), id: Ids.DlqIdInput })
)
export type TargetInput = typeof TargetInput.Encoded

const decodeTarget = Input.decode(TargetInput, "target")
const decodeJobId = Input.decode(Ids.JobIdInput, "id")

/**
 * A job or a dead letter as it is stored. The JSON variants of the models, so a view can be
 * persisted as a cluster reply or sent over HTTP as it is.
 */
export const View = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("job"), job: JobModel.Job.json }),
  Schema.Struct({ kind: Schema.Literal("dead_letter"), deadLetter: JobDlqModel.JobDlq.json })
)
export type View = typeof View.Type

/** Who issues a command (a user, an API key name): recorded in the job's history. */
export const Actor = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))


export interface CancelInput {
  /** The job's id: `3` or `"3"`. */
  readonly id: number | string
  readonly by: string
  readonly reason?: string | undefined
}


export interface RetryNowInput {
  /** The job's id: `3` or `"3"`. */
  readonly id: number | string
  readonly by: string
}


export interface RerunInput {
  /** The finished job's id: `3` or `"3"`. */
  readonly id: number | string
  /** Who reruns (a user, an API key name): recorded in the history entry and the request key's row. */
  readonly by: string
  /**
   * The client's key of this request (1–256 characters): the same key again, for the same job,
   * returns the job the first call created — also once that job has run (kept 30 days, see Pruner).
   */
  readonly requestId: string
  /** An edited payload, validated with the job type's Schema (needs the type in the JobRegistry). */
  readonly payload?: unknown
}

export const RerunResult = Schema.Struct({
  jobId: Ids.JobId,
  /** The finished job it re-runs (the new job's `rerun_of`). */
  rerunOf: Ids.JobId,
  /** false when the request key had been used already: `jobId` is that call's job. */
  created: Schema.Boolean
})
export type RerunResult = typeof RerunResult.Type

/** Only a completed (kept) or cancelled job can be rerun; a waiting or running one runs anyway. */
export class JobNotFinished extends Schema.TaggedError<JobNotFinished>()("Redrive/JobNotFinished", {
  id: Schema.Number,
  state: Schema.String
}) {}

/** The request key was first used to rerun another job: it names that request, not this one. */
export class RerunKeyConflict extends Schema.TaggedError<RerunKeyConflict>()("Redrive/RerunKeyConflict", {
  requestId: Schema.String,
  /** The job the key was used with. */
  usedFor: Schema.Number
}) {}

export class JobCommands extends Context.Tag("@redrive/jobs/JobCommands")<JobCommands, {
  readonly get: (
    target: TargetInput
  ) => Effect.Effect<View, JobNotFound | DeadLetterNotFound | Input.InvalidInput | DatabaseError | InvalidRow>
  /**
   * An available or paused job becomes `cancelled` with a `discarded` history entry. Idempotent:
   * an already cancelled job is returned (`alreadyCancelled: true`); a completed one is
   * `JobAlreadyFinished`, a running one `JobRunning`.
   */
  readonly cancel: (
    input: CancelInput
  ) => Effect.Effect<
    CancelResult,
    JobNotFound | JobRunning | JobAlreadyFinished | Input.InvalidInput | DatabaseError | InvalidRow
  >
  /**
   * An available job scheduled in the future (a retry backoff, a run_at) becomes due now and its
   * queue's workers are woken. A paused job gets the same run_at but runs only once its scope
   * is resumed (resume wakes the workers).
   */
  readonly retryNow: (
    input: RetryNowInput
  ) => Effect.Effect<
    RetryNowResult,
    JobNotFound | JobRunning | JobAlreadyFinished | Input.InvalidInput | DatabaseError | InvalidRow
  >
  /**
   * A completed (kept under `keepCompleted`) or cancelled job runs again as a new job — the design's
   * "replay of successful events": `available` (or `paused` in a paused scope), attempts from zero,
   * its history plus a `replayed` entry, `rerun_of` = the finished job. Idempotent per `requestId`.
   * Under `Tenant.withTenant`, only the tenant's own jobs (another's is JobNotFound).
   */
  readonly rerun: (
    input: RerunInput
  ) => Effect.Effect<
    RerunResult,
    | JobNotFound
    | JobNotFinished
    | RerunKeyConflict
    | InvalidPayload
    | UnknownJobType
    | Limits.PayloadTooLarge
    | Input.InvalidInput
    | DatabaseError
    | InvalidRow
  >
}>() {}

/** The history entry of an operator's cancel; decodes as an ErrorHistory.AttemptEntry. */
export const cancelMessage = (by: string, reason: string | undefined) =>
  reason === undefined || reason === "" ? `cancelled by ${by}` : `cancelled by ${by}: ${reason}`

const decodeJob = Schema.decodeUnknown(JobModel.Job)
const decodeActor = Input.decode(Actor, "by")
const decodeRequestKey = Input.decode(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)), "requestId")
const decodeRerun = Schema.decodeUnknown(Schema.Struct({
  state: Schema.NullOr(Schema.String),
  jobId: Schema.NullOr(Ids.JobIdInput),
  keySource: Schema.NullOr(Ids.JobIdInput),
  created: Schema.Boolean
}))
const decodeChanged = Schema.decodeUnknown(Schema.Struct({ changed: Schema.Boolean }))

/** The row a command statement returned (at most one: it addresses one primary key), decoded. */
const singleRow = <A>(
  operation: string,
  statement: Effect.Effect<ReadonlyArray<object>, SqlError>,
  decode: (row: object) => Effect.Effect<A, ParseResult.ParseError>
) =>
  statement.pipe(
    Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeed(undefined) : decode(rows[0])),
    Effect.mapError(DbError.fromSqlError(operation))
  )

const jobWithChange = (row: object) =>
  Effect.all({ job: decodeJob(row), changed: Effect.map(decodeChanged(row), (r) => r.changed) })

/** The refusal for a job that is not waiting (available or paused). */
const notWaiting = (job: JobModel.Job) =>
  job.state === "running"
    ? new JobRunning({ id: job.id, lockedBy: job.lockedBy, lockedUntil: job.lockedUntil })
    : job.state === "completed" || job.state === "cancelled"
    ? new JobAlreadyFinished({ id: job.id, state: job.state })
    : undefined

export interface JobCommandsOptions {
  /** History cap (default ErrorHistory.defaultCap). */
  readonly historyCap?: number
}

export const make = (options: JobCommandsOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const jobs = yield* JobRepo.JobRepo
    const deadLetters = yield* JobDlqRepo.JobDlqRepo
    const cap = options.historyCap ?? ErrorHistory.defaultCap

    const get = Effect.fn("JobCommands.get")(function*(input: TargetInput) {
      const target = yield* decodeTarget(input)
      yield* Effect.annotateCurrentSpan({ kind: target.kind, id: target.id })
      if (target.kind === "job") {
        const job = yield* jobs.findById(target.id)
        if (Option.isNone(job)) return yield* new JobNotFound({ id: target.id })
        return { kind: "job", job: job.value } satisfies View
      }
      const deadLetter = yield* deadLetters.get(target.id)
      if (Option.isNone(deadLetter)) return yield* new DbError.DeadLetterNotFound({ id: target.id })
      return { kind: "dead_letter", deadLetter: deadLetter.value } satisfies View
    })

    const cancel = Effect.fn("JobCommands.cancel")(function*(input: CancelInput) {
      const id = yield* decodeJobId(input.id)
      yield* Effect.annotateCurrentSpan({ jobId: id, by: input.by })
      const row = yield* singleRow(
        "JobCommands.cancel",
        JobSql.cancelJob(sql, { id, by: input.by, message: cancelMessage(input.by, input.reason), cap }),
        jobWithChange
      )
      if (row === undefined) return yield* new JobNotFound({ id })
      if (row.changed) return { job: row.job, alreadyCancelled: false } satisfies CancelResult
      // Cancelling twice is not an error: the operator's intent already holds.
      if (row.job.state === "cancelled") return { job: row.job, alreadyCancelled: true } satisfies CancelResult
      const refusal = notWaiting(row.job)
      return yield* refusal ?? Effect.dieMessage(`job ${id} is ${row.job.state} but was not cancelled`)
    })

    const retryNow = Effect.fn("JobCommands.retryNow")(function*(input: RetryNowInput) {
      const id = yield* decodeJobId(input.id)
      yield* Effect.annotateCurrentSpan({ jobId: id, by: input.by })
      const row = yield* singleRow(
        "JobCommands.retryNow",
        JobSql.retryJobNow(sql, { id, channel: Notify.channel }),
        jobWithChange
      )
      if (row === undefined) return yield* new JobNotFound({ id })
      const refusal = notWaiting(row.job)
      if (refusal !== undefined) return yield* refusal
      return { job: row.job, rescheduled: row.changed } satisfies RetryNowResult
    })

    /** An edited payload, checked as an enqueue of the job's type would check it. */
    const validatePayload = (id: Ids.JobId, payload: unknown) =>
      Effect.gen(function*() {
        const job = yield* jobs.findById(id)
        if (Option.isNone(job)) return yield* new JobNotFound({ id })
        const type = job.value.type
        const registry = yield* Effect.serviceOption(JobRegistry)
        const definition = Option.flatMap(registry, (r) => r.get(type))
        if (Option.isNone(definition)) return yield* new UnknownJobType({ type })
        const stored = yield* definition.value.normalizePayload(payload).pipe(
          Effect.mapError((e) => {
            const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
            const path = (issue?.path ?? []).flatMap((k) => typeof k === "symbol" ? [] : [k])
            return new InvalidPayload({
              type,
              field: path.length === 0 ? "payload" : path.join("."),
              path,
              message: issue?.message ?? e.message
            })
          })
        )
        const json = JSON.stringify(stored) as string | undefined
        if (json === undefined) {
          return yield* new InvalidPayload({ type, field: "payload", path: [], message: "the payload is not a JSON value" })
        }
        yield* Limits.checkBytes("payload", json, (yield* Limits.Current).payloadBytes)
        return json
      })

    const rerun = Effect.fn("JobCommands.rerun")(function*(input: RerunInput) {
      const id = yield* decodeJobId(input.id)
      const by = yield* decodeActor(input.by)
      const requestKey = yield* decodeRequestKey(input.requestId)
      yield* Effect.annotateCurrentSpan({ jobId: id, by, requestId: requestKey })
      const payloadJson = input.payload === undefined ? null : yield* validatePayload(id, input.payload)
      // A tenant may rerun its jobs but not write lineage nor request keys: the statement runs as the
      // runtime, pinned to the tenant.
      const once = Tenant.onRuntime((tenant) =>
        singleRow(
          "JobCommands.rerun",
          RerunSql.rerun(sql, {
            id,
            tenantId: Option.getOrNull(tenant),
            requestKey,
            by,
            payloadJson,
            cap,
            channel: Notify.channel
          }),
          decodeRerun
        )
      )
      // The same key raced in by another call meanwhile: once more finds it.
      const row = yield* once.pipe(
        Effect.catchIf(
          (e) => e._tag === "Redrive/DatabaseError" && e.constraint === "job_rerun_pkey",
          () => once
        )
      )
      if (row === undefined) return yield* Effect.dieMessage("the rerun statement returned no row")
      if (row.keySource !== null && row.keySource !== id) {
        return yield* new RerunKeyConflict({ requestId: requestKey, usedFor: row.keySource })
      }
      if (row.jobId === null) {
        return yield* row.state === null ? new JobNotFound({ id }) : new JobNotFinished({ id, state: row.state })
      }
      if (row.created) yield* Metric.increment(Metrics.jobsRerun)
      return { jobId: row.jobId, rerunOf: id, created: row.created } satisfies RerunResult
    })

    return JobCommands.of({ get, cancel, retryNow, rerun })
  })

/** Needs SqlClient. */
export const layer = (options: JobCommandsOptions = {}) =>
  // JobCommands never pages dead letters, so its repository signs no cursor: no secret is needed.
  Layer.effect(JobCommands, make(options)).pipe(
    Layer.provide(Layer.merge(JobRepo.JobRepo.Default, JobDlqRepo.layerInsecureDefault))
  )
