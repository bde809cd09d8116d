/**
 * The addressable command surface of one job or dead letter, as an @effect/cluster entity:
 * `Replay` a dead letter, `Cancel` or `RetryNow` a job, `Get` either. Entity ids are
 * `job:<id>` and `dlq:<id>`. Commands are persisted and deduplicated by the caller's
 * `requestId`, so a retried request returns the stored reply instead of acting twice; typed
 * errors are stored as failure replies and never retried, and a defect comes back to the
 * caller instead of being redelivered forever.
 *
 * The entity runs as the owning database role: it does not enforce tenancy. The HTTP and RPC
 * layers check that a caller's tenant owns the id before they send a command here.
 */
import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import * as SingleRunner from "@effect/cluster/SingleRunner"
import type { ShardingConfig } from "@effect/cluster/ShardingConfig"
import * as Rpc from "@effect/rpc/Rpc"
import { DatabaseError as DbError, Ids, Input } from "@redrive/database"
import { type Duration, Effect, Either, Layer, ParseResult, Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as JobCommands from "./JobCommands.js"
import { PayloadTooLarge } from "./Limits.js"
import * as MailboxSweep from "./MailboxSweep.js"
import { InvalidPayload, Replay, UnknownJobType } from "./Replay.js"

/** The entity id of a target: `job:<id>` or `dlq:<id>`. */
export const entityId = (target: JobCommands.Target): string =>
  target.kind === "job" ? `job:${target.id}` : `dlq:${target.id}`

/** Parses an entity id (`job:123`, `dlq:45`) into the target it addresses. */
export const TargetFromEntityId = Schema.transform(
  Schema.String.pipe(Schema.pattern(/^(job|dlq):[1-9][0-9]{0,15}$/, {
    message: () => "expected job:<id> or dlq:<id> with a positive integer id"
  })),
  JobCommands.Target,
  {
    strict: true,
    decode: (s) =>
      s.startsWith("job:") ? { kind: "job", id: s.slice(4) } as const : { kind: "dead_letter", id: s.slice(4) } as const,
    encode: (t) => `${t.kind === "job" ? "job" : "dlq"}:${t.id}`
  }
)

/** The entity id does not name a job or a dead letter. */
export class InvalidEntityId extends Schema.TaggedError<InvalidEntityId>()("Redrive/InvalidEntityId", {
  entityId: Schema.String,
  message: Schema.String
}) {}

/** The command does not apply to this kind of entity (e.g. `Cancel` sent to a dead letter). */
export class WrongEntityKind extends Schema.TaggedError<WrongEntityKind>()("Redrive/WrongEntityKind", {
  entityId: Schema.String,
  command: Schema.String,
  expected: Schema.Literal("job", "dead_letter")
}) {}

/** A client's idempotency key: a request repeated with the same id gets the stored reply. */
export const RequestId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

const AddressErrors = [InvalidEntityId, WrongEntityKind] as const
// InvalidInput cannot happen here (the entity id was decoded when the instance started), but the
// services it calls declare it.
const StoreErrors = [DbError.DatabaseError, DbError.InvalidRow, Input.InvalidInput] as const

export const ReplayResult = Schema.Struct({
  jobId: Ids.JobId,
  /** false when the dead letter had been replayed already: `jobId` is that replay's job. */
  created: Schema.Boolean
})

/** Replays the dead letter the entity id names, once per `requestId`. */
export const ReplayCommand = Rpc.make("Replay", {
  payload: {
    requestId: RequestId,
    by: JobCommands.Actor,
    /** An edited payload, validated with the job type's Schema; travels as JSON text. */
    payload: Schema.optional(Schema.parseJson())
  },
  success: ReplayResult,
  error: Schema.Union(
    ...AddressErrors,
    DbError.DeadLetterNotFound,
    InvalidPayload,
    PayloadTooLarge,
    UnknownJobType,
    ...StoreErrors
  ),
  primaryKey: (p) => p.requestId
})
  .annotate(ClusterSchema.Persisted, true)
  // A caller's timeout must not durably cancel a replay: a retry with the same requestId
  // would then get the stored interrupt instead of the job.
  .annotate(ClusterSchema.Uninterruptible, "client")

/** What Cancel and RetryNow can fail with. */
const JobCommandErrors = Schema.Union(
  ...AddressErrors,
  JobCommands.JobNotFound,
  JobCommands.JobRunning,
  JobCommands.JobAlreadyFinished,
  ...StoreErrors
)

export const CancelCommand = Rpc.make("Cancel", {
  payload: { requestId: RequestId, by: JobCommands.Actor, reason: Schema.optional(JobCommands.Reason) },
  success: JobCommands.CancelResult,
  error: JobCommandErrors,
  primaryKey: (p) => p.requestId
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.Uninterruptible, "client")

export const RetryNowCommand = Rpc.make("RetryNow", {
  payload: { requestId: RequestId, by: JobCommands.Actor },
  success: JobCommands.RetryNowResult,
  error: JobCommandErrors,
  primaryKey: (p) => p.requestId
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.Uninterruptible, "client")

/**
 * A read: not persisted (nothing to make durable, and a deduplicated read would return a stale
 * view), so it needs no requestId and a caller may abandon it.
 */
export const GetCommand = Rpc.make("Get", {
  success: JobCommands.View,
  error: Schema.Union(...AddressErrors, JobCommands.JobNotFound, DbError.DeadLetterNotFound, ...StoreErrors)
})

export const JobEntity = Entity.make("RedriveJob", [ReplayCommand, CancelCommand, RetryNowCommand, GetCommand])

const decodeTarget = Schema.decodeEither(TargetFromEntityId)

/** Handlers of one entity instance: its id is parsed once, when the instance starts. */
export const handlers = Effect.gen(function*() {
  const address = yield* Entity.CurrentAddress
  const replay = yield* Replay
  const commands = yield* JobCommands.JobCommands
  const id = address.entityId
  const target = Either.mapLeft(
    decodeTarget(id),
    (e) => new InvalidEntityId({ entityId: id, message: ParseResult.TreeFormatter.formatErrorSync(e) })
  )
  const jobId = (command: string) =>
    Effect.flatMap(target, (t) =>
      t.kind === "job"
        ? Effect.succeed(t.id)
        : Effect.fail(new WrongEntityKind({ entityId: id, command, expected: "job" })))
  const dlqId = (command: string) =>
    Effect.flatMap(target, (t) =>
      t.kind === "dead_letter"
        ? Effect.succeed(t.id)
        : Effect.fail(new WrongEntityKind({ entityId: id, command, expected: "dead_letter" })))

  return JobEntity.of({
    Replay: ({ payload }) =>
      Effect.flatMap(dlqId("Replay"), (dlq) =>
        replay.replayOne({
          id: dlq,
          by: payload.by,
          ...(payload.payload !== undefined ? { payload: payload.payload } : {})
        })),
    Cancel: ({ payload }) =>
      Effect.flatMap(jobId("Cancel"), (job) => commands.cancel({ id: job, by: payload.by, reason: payload.reason })),
    RetryNow: ({ payload }) =>
      Effect.flatMap(jobId("RetryNow"), (job) => commands.retryNow({ id: job, by: payload.by })),
    Get: () => Effect.flatMap(target, commands.get)
  })
})

/** How the entity is registered (for a layer over wrapped `handlers`, e.g. in a test). */
export const layerOptions = {
  // A defect is stored as the reply and reaches the caller: by default the cluster would
  // redeliver the message forever while the caller hangs.
  disableFatalDefects: true,
  maxIdleTime: "1 minute"
} as const

/** The entity's handlers; needs Replay, JobCommands and a Sharding (a cluster or SingleRunner). */
export const layer = JobEntity.toLayer(handlers, layerOptions)

/**
 * The entity on a one-process cluster whose messages live in Postgres (`cluster_*` tables in
 * the connection's database): needs SqlClient and Replay. Also provides Sharding, for clients.
 */
export const layerSingleRunner = (options: {
  readonly shardingConfig?: Partial<ShardingConfig["Type"]> | undefined
  readonly commands?: JobCommands.JobCommandsOptions | undefined
  /** MailboxSweep's interval; REDRIVE_MAILBOX_SWEEP_INTERVAL (10 seconds) when omitted. */
  readonly mailboxSweepInterval?: Duration.DurationInput | undefined
} = {}) =>
  Layer.merge(layer, MailboxSweep.layer({ interval: options.mailboxSweepInterval, shardingConfig: options.shardingConfig }))
    .pipe(
      Layer.provide(JobCommands.layer(options.commands)),
      Layer.provideMerge(SingleRunner.layer({ runnerStorage: "sql", shardingConfig: options.shardingConfig }))
    )

export interface CommandOptions {
  /** Idempotency key; a random one when omitted (then a retried call is a new request). */
  readonly requestId?: string | undefined
  readonly by: string
}

/** A typed client of the entity; needs Sharding. */
export const client = Effect.gen(function*() {
  const make = yield* JobEntity.client
  const requestId = (options: CommandOptions) => options.requestId ?? randomUUID()
  return {
    replay: (id: Ids.DlqId, options: CommandOptions & { readonly payload?: unknown }) =>
      make(entityId({ kind: "dead_letter", id })).Replay({
        requestId: requestId(options),
        by: options.by,
        ...(options.payload !== undefined ? { payload: options.payload } : {})
      }),
    cancel: (id: Ids.JobId, options: CommandOptions & { readonly reason?: string | undefined }) =>
      make(entityId({ kind: "job", id })).Cancel({
        requestId: requestId(options),
        by: options.by,
        ...(options.reason !== undefined ? { reason: options.reason } : {})
      }),
    retryNow: (id: Ids.JobId, options: CommandOptions) =>
      make(entityId({ kind: "job", id })).RetryNow({ requestId: requestId(options), by: options.by }),
    get: (target: JobCommands.Target) => make(entityId(target)).Get()
  } as const
})
