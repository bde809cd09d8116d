/**
 * Rows for tests, as River keeps a test factory: valid defaults, overridden per test, and names
 * unique to the test that asks for them. Every test creates the rows it relies on under its own
 * tenants and queues and counts only those, so tests pass alone, together and in any order.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { ControlState } from "../Control.js"
import type { AttemptEntry, ErrorHistory } from "../ErrorHistory.js"
import { DlqId, ErrorClass, JobId, JobType, Priority, QueueName, TenantId } from "../Ids.js"
import { JobDlqRepo, type JobDlqInsert, layerInsecureDefault } from "../JobDlqRepo.js"
import { type JobInsert, JobRepo } from "../JobRepo.js"

let sequence = 0
const run = Math.random().toString(36).slice(2, 7)

/** A name no other test (in this run or an earlier one on the same database) uses. */
export const unique = (prefix: string) => `${prefix}-${run}-${(++sequence).toString(36)}`

export const tenant = (name?: string) => TenantId.make(name ?? unique("tenant"))
export const queue = (name?: string) => QueueName.make(name ?? unique("q"))
export const jobType = (name?: string) => JobType.make(name ?? unique("type"))

/** A waiting job of a fresh tenant and queue. */
export const job = (overrides: Partial<JobInsert> = {}): JobInsert => ({
  tenantId: tenant(),
  queue: queue(),
  type: JobType.make("email.send"),
  payload: { to: "a@example.com", nested: { snake_key: 1 } },
  priority: Priority.make(5),
  state: "available",
  attempt: 0,
  maxAttempts: 3,
  runAt: new Date(),
  lockedBy: null,
  lockedUntil: null,
  heartbeatAt: null,
  errorHistory: [],
  idempotencyKey: null,
  replayOf: null,
  requestId: null,
  userId: null,
  completedAt: null,
  ...overrides
})

/** A plain failed attempt `n` of an unknown error, at 10:00:n on 2026-11-23. */
export const failedAttempt = (attempt: number): AttemptEntry => ({
  attempt,
  at: new Date(Date.UTC(2026, 10, 23, 10, 0, attempt)),
  kind: "failed",
  errorClass: "unknown",
  tag: "Error",
  message: `attempt ${attempt}`
})

/** Three attempts of one job: a 503, a timeout, a validation error. */
export const history3: ErrorHistory = [
  {
    attempt: 1,
    at: new Date("2026-11-23T10:00:00.123Z"),
    kind: "failed",
    errorClass: "external_api",
    tag: "HttpError",
    message: "503 Service Unavailable",
    stack: "Error: 503\n    at call (api.ts:10:5)",
    durationMs: 120,
    workerId: "w-1",
    nextRunAt: new Date("2026-11-23T10:00:02.000Z")
  },
  {
    attempt: 2,
    at: new Date("2026-11-23T10:00:02.456Z"),
    kind: "timeout",
    errorClass: "timeout",
    tag: "TimeoutException",
    message: "handler exceeded 30s",
    durationMs: 30000,
    workerId: "w-2",
    nextRunAt: new Date("2026-11-23T10:00:10.000Z")
  },
  {
    attempt: 3,
    at: new Date("2026-11-23T10:00:10.789Z"),
    kind: "failed",
    errorClass: "validation",
    tag: "ParseError",
    message: "Expected string at [\"to\"]",
    durationMs: 3,
    workerId: "w-1"
  }
]

// Dead letters need a job id that no job of the test database has: far above the identity's values.
let nextJobId = 1_000_000_000 + Math.floor(Math.random() * 1_000_000) * 1000

/** A dead letter (of a job that no longer exists) of a fresh tenant and queue, with `history3`. */
export const deadLetter = (overrides: Partial<JobDlqInsert> = {}): JobDlqInsert => ({
  jobId: JobId.make(nextJobId++),
  tenantId: tenant(),
  queue: queue(),
  type: JobType.make("email.send"),
  payload: { to: "a@example.com" },
  priority: Priority.make(5),
  maxAttempts: 3,
  errorClass: ErrorClass.make("validation"),
  errorReason: "Expected string",
  attempts: 3,
  errorHistory: history3,
  fingerprint: "fp-1",
  firstFailedAt: new Date("2026-11-23T10:00:00.123Z"),
  dlqAt: new Date(),
  replayedAt: null,
  replayedBy: null,
  replayJobId: null,
  replayOf: null,
  requestId: "req-1",
  userId: "user-1",
  ...overrides
})

export const dlqId = (n: number) => DlqId.make(n)

/** Inserts a job row as it is given (any state), through JobRepo. */
export const insertJob = (overrides: Partial<JobInsert> = {}) =>
  Effect.flatMap(JobRepo, (jobs) => jobs.insert(job(overrides))).pipe(Effect.provide(JobRepo.Default))

/** The columns of a job whose worker died mid-attempt: running, its lease expired a second ago. */
export const abandoned = (lockedBy: string, attempt: number): Partial<JobInsert> => ({
  state: "running",
  attempt,
  lockedBy,
  lockedUntil: new Date(Date.now() - 1000),
  heartbeatAt: new Date(Date.now() - 5000)
})

/** Inserts a dead letter row, through JobDlqRepo. */
export const insertDeadLetter = (overrides: Partial<JobDlqInsert> = {}) =>
  Effect.flatMap(JobDlqRepo, (dlq) => dlq.insert(deadLetter(overrides))).pipe(Effect.provide(layerInsecureDefault))

/** A control row: the scope (`*` for every tenant, queue or type) is paused, draining or drained. */
export const insertControl = (
  scope: { readonly tenantId: string; readonly queue: string; readonly type?: string; readonly state?: ControlState }
) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.control (tenant_id, queue, type, state, initiated_by)
        values (${scope.tenantId}, ${scope.queue}, ${scope.type ?? "*"}, ${scope.state ?? "paused"}, 'test')`.pipe(
      Effect.asVoid
    ))

/**
 * Per-minute failure counters as the settle and rescue statements write them (`at` is filed under
 * its minute): what queue_health's dead letters of the last 24 h and the failure timeline read.
 */
export const insertFailureStat = (row: {
  readonly tenantId: string
  readonly queue: string
  readonly type?: string
  readonly errorClass?: string
  readonly at?: Date
  readonly failures?: number
  readonly deadLettered?: number
  readonly recovered?: number
}) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.failure_stat as fs (tenant_id, queue, type, error_class, bucket, failures, dead_lettered, recovered)
        values (${row.tenantId}, ${row.queue}, ${row.type ?? "email.send"}, ${row.errorClass ?? "validation"},
                date_trunc('minute', ${row.at ?? new Date()}::timestamptz), ${row.failures ?? 0}, ${row.deadLettered ?? 0},
                ${row.recovered ?? 0})
        on conflict (tenant_id, queue, type, error_class, bucket) do update
          set failures = fs.failures + excluded.failures, dead_lettered = fs.dead_lettered + excluded.dead_lettered,
              recovered = fs.recovered + excluded.recovered`.pipe(Effect.asVoid))
