/** Row builders for tests: valid defaults, overridden per test. */
import type { ErrorHistory } from "../src/ErrorHistory.js"
import { DlqId, ErrorClass, JobId, JobType, Priority, QueueName, TenantId } from "../src/Ids.js"
import type { JobDlqInsert } from "../src/JobDlqRepo.js"
import type { JobInsert } from "../src/JobRepo.js"

export const tenant = (s: string) => TenantId.make(s)
export const queue = (s: string) => QueueName.make(s)

export const job = (overrides: Partial<JobInsert> = {}): JobInsert => ({
  tenantId: tenant("default"),
  queue: queue("default"),
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

let nextJobId = 1_000_000
export const deadLetter = (overrides: Partial<JobDlqInsert> = {}): JobDlqInsert => ({
  jobId: JobId.make(nextJobId++),
  tenantId: tenant("default"),
  queue: queue("default"),
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
