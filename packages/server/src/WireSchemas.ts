/**
 * What travels between a client and the server, shared by the RPC group and the HTTP API: the
 * requests (plain JSON; every request refuses unknown fields and reports every problem, not only
 * the first) and the responses (the JSON variants of the models).
 */
// Deep imports of definition modules only: the console's browser bundle includes this file.
import * as Control from "@redrive/database/Control"
import * as ControlEvent from "@redrive/database/ControlEvent"
import type * as DlqFilter from "@redrive/database/DlqFilter"
import * as Job from "@redrive/database/Job"
import * as JobDlq from "@redrive/database/JobDlq"
import * as ReplayRequest from "@redrive/database/ReplayRequest"
import * as StatsRepo from "@redrive/database/StatsRepo"
import * as JobCommands from "@redrive/jobs/JobCommandResults"
import { Schema } from "effect"


/** Every issue, and a field nobody defined is an issue too ("unknown filter"). */
export const strict = { parseOptions: { errors: "all", onExcessProperty: "error" } } as const

// Names as plain (unbranded) strings: the typed client takes them as callers write them.
const text = (max: number) => Schema.String.pipe(Schema.minLength(1), Schema.maxLength(max))
const notWildcard = (s: string) => s !== "*" || "'*' is reserved for control scopes"
/** A tenant as rows hold it (`default` included). */
export const StoredTenant = text(128).pipe(Schema.filter(notWildcard))
/** A real tenant: `default` and `*` are nobody's. */
export const Tenant = StoredTenant.pipe(
  Schema.filter((s) => s !== "default" || "'default' is reserved for work enqueued without a tenant")
)
export const Queue = text(128).pipe(Schema.filter(notWildcard))
export const JobType = text(128)
export const ErrorClass = Schema.String.pipe(Schema.pattern(/^[a-z][a-z0-9_]{0,63}$/, {
  message: () => "expected an error class: a lowercase letter, then up to 63 lowercase letters, digits or _"
}))
const ScopeTenant = Schema.Union(Schema.Literal("*"), StoredTenant)
const ScopeQueue = Schema.Union(Schema.Literal("*"), Queue)

/** A bigint id as JSON carries it: a positive integer a JS number holds exactly. */
export const Id = Schema.Int.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER, {
  message: () => `expected an integer id between 1 and ${Number.MAX_SAFE_INTEGER}`
}))
/** The same id in a URL path. */
export const IdFromPath = Schema.NumberFromString.pipe(Schema.compose(Id))

/** The caller's idempotency key of a command: the same key again returns the first reply. */
export const RequestId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200), Schema.pattern(/^[\x21-\x7e]+$/, {
  message: () => "expected 1-200 printable ASCII characters without spaces"
}))

const Cursor = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096))
const Limit = Schema.Int.pipe(Schema.between(1, 500))

/** DlqFilter with dates as ISO strings only (JSON carries no Date objects; OpenAPI needs one form). */
export const DlqFilterRequest = Schema.Struct({
  tenantId: Schema.optional(StoredTenant),
  queue: Schema.optional(Queue),
  type: Schema.optional(JobType),
  errorClass: Schema.optional(ErrorClass),
  fingerprint: Schema.optional(text(128)),
  dlqFrom: Schema.optional(Schema.Date),
  dlqTo: Schema.optional(Schema.Date),
  ids: Schema.optional(Schema.Array(Id).pipe(Schema.maxItems(1000)))
}).pipe(
  Schema.filter((f) =>
    f.dlqFrom === undefined || f.dlqTo === undefined || f.dlqFrom.getTime() < f.dlqTo.getTime() ||
    { path: ["dlqTo"], message: "dlqTo must be after dlqFrom" }
  )
).annotations(strict)

export const DlqListRequest = Schema.Struct({
  filter: Schema.optional(DlqFilterRequest),
  limit: Schema.optional(Limit),
  cursor: Schema.optional(Cursor)
}).annotations(strict)
export type DlqListRequest = typeof DlqListRequest.Type
/** What an operation needs of a list request: the filter as callers write it. */
export interface DlqListInput {
  readonly filter?: DlqFilter.DlqFilterInput | undefined
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
  /** Free text in the reason (inspection only; a bulk replay's filter never carries it). */
  readonly reasonContains?: string | undefined
}

export const DlqPage = Schema.Struct({ items: Schema.Array(JobDlq.JobDlq.json), nextCursor: Schema.NullOr(Schema.String) })
export type DlqPage = typeof DlqPage.Type

export const DeadLetterView = JobDlq.JobDlq.json

export const ByIdRequest = Schema.Struct({ id: Id }).annotations(strict)

export const ReplayOneBody = Schema.Struct({
  /** An edited payload, validated with the job type's Schema. */
  payload: Schema.optional(Schema.Unknown),
  requestId: Schema.optional(RequestId)
}).annotations(strict)
export const ReplayOneRequest = Schema.Struct({ id: Id, ...ReplayOneBody.fields }).annotations(strict)
export type ReplayOneRequest = typeof ReplayOneRequest.Type

export const ReplayOneResult = Schema.Struct({
  jobId: Schema.Number,
  /** false: the dead letter had been replayed already and `jobId` is that replay's job. */
  created: Schema.Boolean
})

export const BulkReplayRequest = Schema.Struct({
  /** Client idempotency key (a UUID): the same id again returns the existing request. */
  id: Schema.optional(Schema.UUID),
  filter: DlqFilterRequest,
  /** Count only: nothing is replayed. */
  dryRun: Schema.optional(Schema.Boolean),
  ratePerSec: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000))),
  /** Admin keys only: the tenant whose dead letters are replayed, or `*` (default: filter.tenantId, else `*`). */
  scopeTenant: Schema.optional(Schema.Union(Schema.Literal("*"), Tenant))
}).annotations(strict)
export type BulkReplayRequest = typeof BulkReplayRequest.Type

export const ReplayRequestIdRequest = Schema.Struct({ id: Schema.UUID }).annotations(strict)

/** A bulk replay request and its progress (`matched`, `replayed`, `state`). */
export const BulkReplayStatus = Schema.Struct({ ...ReplayRequest.ReplayRequest.json.fields, filter: DlqFilterRequest })

export const CancelBody = Schema.Struct({
  reason: Schema.optional(JobCommands.Reason),
  requestId: Schema.optional(RequestId)
}).annotations(strict)
export const CancelRequest = Schema.Struct({ id: Id, ...CancelBody.fields }).annotations(strict)
export type CancelRequest = typeof CancelRequest.Type

export const RetryBody = Schema.Struct({ requestId: Schema.optional(RequestId) }).annotations(strict)
export const RetryRequest = Schema.Struct({ id: Id, ...RetryBody.fields }).annotations(strict)
export type RetryRequest = typeof RetryRequest.Type

export const JobView = Job.Job.json

const ScopeFields = {
  /** Omitted or `*`: every tenant (admin keys); a tenant key acts on its own tenant only. */
  tenantId: Schema.optional(ScopeTenant),
  queue: Schema.optional(ScopeQueue)
}
const Reason = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000))
export const PauseRequest = Schema.Struct({ ...ScopeFields, reason: Reason }).annotations(strict)
export type PauseRequest = typeof PauseRequest.Type
export const ScopeRequest = Schema.Struct(ScopeFields).annotations(strict)
export type ScopeRequest = typeof ScopeRequest.Type

export const ControlView = Control.Control.json
export const ControlChange = Schema.Struct({
  /** The row in force after a pause or drain; the row lifted by a resume (null: there was none). */
  control: Schema.NullOr(ControlView),
  /** Waiting jobs moved (to `paused` or back). */
  moved: Schema.Number,
  batches: Schema.Number
})

/** The control audit trail: newest first; a scope narrows it to events of exactly that scope. */
export const ControlEventsRequest = Schema.Struct({
  ...ScopeFields,
  /** The previous page's last id: the events before it. */
  before: Schema.optional(Id),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000)))
}).annotations(strict)
export type ControlEventsRequest = typeof ControlEventsRequest.Type
export const ControlEventView = ControlEvent.ControlEvent.json

/** A DLQ purge: a filter or `olderThanMs` is required (a purge never deletes everything by default). */
export const PurgeRequest = Schema.Struct({
  filter: DlqFilterRequest,
  /** Only dead letters dead-lettered longer ago than this many milliseconds. */
  olderThanMs: Schema.optional(Schema.Int.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER))),
  /** Count only: nothing is deleted, nothing audited. */
  dryRun: Schema.optional(Schema.Boolean),
  reason: Schema.optional(Schema.String.pipe(Schema.maxLength(2000)))
}).annotations(strict)
export type PurgeRequest = typeof PurgeRequest.Type
export const PurgeResult = Schema.Struct({
  /** Dead letters that match (dry run) or were deleted. */
  count: Schema.Number,
  dryRun: Schema.Boolean,
  /** The `redrive.dlq_purge` audit row; null for a dry run. */
  auditId: Schema.NullOr(Schema.Number)
})

export const ErrorGroupsListRequest = Schema.Struct({
  tenantId: Schema.optional(StoredTenant),
  type: Schema.optional(JobType),
  errorClass: Schema.optional(ErrorClass),
  orderBy: Schema.optional(Schema.Literal("lastSeen", "count")),
  limit: Schema.optional(Limit),
  cursor: Schema.optional(Cursor),
  includeEmpty: Schema.optional(Schema.Boolean)
}).annotations(strict)
export type ErrorGroupsListRequest = typeof ErrorGroupsListRequest.Type

const GroupKeyFields = {
  type: JobType,
  errorClass: ErrorClass,
  fingerprint: text(128),
  tenantId: Schema.optional(StoredTenant)
}
export const ErrorGroupKey = Schema.Struct(GroupKeyFields).annotations(strict)
export type ErrorGroupKey = typeof ErrorGroupKey.Type
export const MuteRequest = Schema.Struct({
  ...GroupKeyFields,
  /** Minutes the group stays muted (1 minute to 90 days). */
  minutes: Schema.Int.pipe(Schema.between(1, 90 * 24 * 60)),
  reason: Schema.optional(Schema.String.pipe(Schema.maxLength(1000)))
}).annotations(strict)
export type MuteRequest = typeof MuteRequest.Type
export const UnmuteRequest = Schema.Struct({
  ...GroupKeyFields,
  reason: Schema.optional(Schema.String.pipe(Schema.maxLength(1000)))
}).annotations(strict)
export type UnmuteRequest = typeof UnmuteRequest.Type

export const ErrorGroup = Schema.Struct({
  type: Schema.String,
  errorClass: Schema.String,
  fingerprint: Schema.String,
  tenantId: Schema.NullOr(Schema.String),
  count: Schema.Number,
  total: Schema.Number,
  tenants: Schema.Number,
  firstSeen: Schema.Date,
  lastSeen: Schema.Date,
  sampleDlqId: Schema.NullOr(Schema.Number),
  sampleMessage: Schema.NullOr(Schema.String)
})
export const ErrorGroupPage = Schema.Struct({ groups: Schema.Array(ErrorGroup), nextCursor: Schema.NullOr(Schema.String) })
export const ErrorGroupDetail = Schema.Struct({ ...ErrorGroup.fields, sampleStack: Schema.NullOr(Schema.String) })
export const Mute = Schema.Struct({
  id: Schema.Number,
  type: Schema.String,
  errorClass: Schema.String,
  fingerprint: Schema.String,
  tenantId: Schema.NullOr(Schema.String),
  mutedUntil: Schema.Date,
  by: Schema.String,
  reason: Schema.String,
  at: Schema.Date
})

export const Stats = Schema.Struct({
  queues: Schema.Array(StatsRepo.QueueHealth),
  failures: Schema.Array(StatsRepo.FailureStats)
})
export type Stats = typeof Stats.Type

/** queue_health alone: what the console's overview, controls and tenant selector read every few seconds. */
export const QueueStats = Schema.Struct({ queues: Schema.Array(StatsRepo.QueueHealth) })
export type QueueStats = typeof QueueStats.Type

export const StatsTimelineRequest = Schema.Struct({
  /** Minutes back from now, the current one included (default 60, at most a day). */
  minutes: Schema.optional(Schema.Int.pipe(Schema.between(1, 1440))),
  /** An admin's narrowing to one tenant; a tenant key may name only its own. */
  tenantId: Schema.optional(StoredTenant)
}).annotations(strict)
export type StatsTimelineRequest = typeof StatsTimelineRequest.Type

/**
 * Completed jobs (throughput_stat) and failures, dead letters and recoveries (failure_stat) per
 * minute, oldest first, a row for every minute.
 */
export const StatsTimeline = Schema.Struct({
  buckets: Schema.Array(Schema.Struct({
    at: Schema.Date,
    completed: Schema.Number,
    failures: Schema.Number,
    deadLettered: Schema.Number,
    recovered: Schema.Number
  }))
})
export type StatsTimeline = typeof StatsTimeline.Type

/** The calling key as the console needs it: who it acts as, for which tenant, with which access. */
export const Session = Schema.Struct({
  name: Schema.String,
  /** null: an admin key (every tenant). */
  tenant: Schema.NullOr(Schema.String),
  access: Schema.Literal("write", "read")
})
export type Session = typeof Session.Type

export const CreateKeyRequest = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  /** Omitted or null: an admin key. */
  tenant: Schema.optional(Schema.NullOr(Tenant)),
  access: Schema.optional(Schema.Literal("write", "read"))
}).annotations(strict)
export type CreateKeyRequest = typeof CreateKeyRequest.Type

export const Empty = Schema.Struct({}).annotations(strict)
