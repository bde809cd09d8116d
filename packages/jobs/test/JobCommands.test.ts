import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory, Ids, Tenant } from "@redrive/database"
import { TestDatabase } from "@redrive/database/testing"
import { Duration, Effect, Layer, Queue, Schema } from "effect"
import { JobCommands } from "../src/JobCommands.js"
import * as JobCommandsModule from "../src/JobCommands.js"
import { history3, seedDeadLetters } from "./replayFixtures.js"
import { listenForWakeUps } from "./notifyFixtures.js"

const TestLayer = JobCommandsModule.layer().pipe(Layer.provideMerge(TestDatabase.layer))

interface SeedJob {
  readonly queue: string
  readonly state?: "available" | "paused" | "running" | "completed" | "cancelled"
  readonly tenant?: string
  /** seconds from now */
  readonly runInSeconds?: number
  readonly history?: ErrorHistory.ErrorHistory
}

/** Inserts one job in the given state (with the lease or completion time that state requires). */
const seedJob = (options: SeedJob) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const state = options.state ?? "available"
    const history = JSON.stringify(yield* Schema.encode(ErrorHistory.ErrorHistory)(options.history ?? []))
    const rows = yield* sql<{ id: string }>`
      insert into redrive.job (tenant_id, queue, type, payload, state, attempt, run_at, locked_by, locked_until,
                               error_history, completed_at)
      values (${options.tenant ?? "default"}, ${options.queue}, 'email.send', '{"to":"a@example.com"}'::jsonb,
              ${state}, ${state === "running" ? 2 : 1},
              now() + ${options.runInSeconds ?? 0} * interval '1 second',
              ${state === "running" ? "worker-7" : null}, case when ${state} = 'running' then now() + interval '1 minute' end,
              ${history}::jsonb, case when ${state} in ('completed', 'cancelled') then now() end)
      returning id`
    return Ids.JobId.make(Number(rows[0]!.id))
  })

const readJob = (id: Ids.JobId) =>
  Effect.flatMap(JobCommands, (c) => c.get({ kind: "job", id })).pipe(
    Effect.flatMap((view) => view.kind === "job" ? Effect.succeed(view.job) : Effect.dieMessage("not a job"))
  )

const dbNow = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ now: Date }>`select now() as now`).pipe(
  Effect.map((rows) => rows[0]!.now)
)

layer(TestLayer, { excludeTestServices: true, timeout: "30 seconds" })("JobCommands", (it) => {
  it.effect("get returns a job and a dead letter as stored", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const jobId = yield* seedJob({ queue: "get-q", history: history3 })
      const job = yield* commands.get({ kind: "job", id: jobId })
      assert.strictEqual(job.kind, "job")
      if (job.kind !== "job") return
      assert.strictEqual(job.job.id, jobId)
      assert.strictEqual(job.job.queue, "get-q")
      assert.strictEqual(job.job.state, "available")
      assert.deepStrictEqual(job.job.payload, { to: "a@example.com" })
      assert.deepStrictEqual(job.job.errorHistory, history3)

      const [dlqId] = yield* seedDeadLetters({ queue: "get-dlq", count: 1 })
      const dead = yield* commands.get({ kind: "dead_letter", id: dlqId! })
      assert.strictEqual(dead.kind, "dead_letter")
      if (dead.kind !== "dead_letter") return
      assert.strictEqual(dead.deadLetter.id, dlqId)
      assert.strictEqual(dead.deadLetter.queue, "get-dlq")
      assert.strictEqual(dead.deadLetter.errorReason, "502 Bad Gateway")
      assert.deepStrictEqual(dead.deadLetter.errorHistory, history3)
      assert.isNull(dead.deadLetter.replayedAt)
      // The view is the JSON shape of the models: it encodes for a reply or an HTTP body.
      const encoded = yield* Schema.encode(JobCommandsModule.View)(dead)
      assert.strictEqual(typeof (encoded.kind === "dead_letter" && encoded.deadLetter.dlqAt), "string")
    }))

  it.effect("get of an unknown id is a typed not-found", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const job = yield* Effect.flip(commands.get({ kind: "job", id: Ids.JobId.make(987_654_321) }))
      assert.strictEqual(job._tag, "Redrive/JobNotFound")
      const dead = yield* Effect.flip(commands.get({ kind: "dead_letter", id: Ids.DlqId.make(987_654_321) }))
      assert.strictEqual(dead._tag, "Redrive/DeadLetterNotFound")
    }))

  it.effect("cancelling an available job cancels it and records who did it and why", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const id = yield* seedJob({ queue: "cancel-q", history: history3 })
      const before = yield* dbNow
      const result = yield* commands.cancel({ id, by: "alice", reason: "duplicate order" })
      assert.isFalse(result.alreadyCancelled)
      const job = yield* readJob(id)
      assert.strictEqual(job.state, "cancelled")
      assert.isNotNull(job.completedAt)
      assert.isTrue(job.completedAt!.getTime() >= before.getTime() - 1)
      assert.strictEqual(job.errorHistory.length, 4)
      assert.deepStrictEqual(job.errorHistory.slice(0, 3), history3)
      const entry = job.errorHistory[3]!
      // The stored entry (raw jsonb) is an ErrorHistory entry.
      const sql = yield* SqlClient.SqlClient
      const [raw] = yield* sql<{ entry: unknown }>`select error_history -> -1 as entry from redrive.job where id = ${id}`
      assert.deepStrictEqual(yield* Schema.decodeUnknown(ErrorHistory.ErrorHistoryEntry)(raw!.entry), entry)
      assert.strictEqual(entry.kind, "discarded")
      if (entry.kind === "dropped") return
      assert.strictEqual(entry.tag, "Cancelled")
      assert.strictEqual(entry.message, "cancelled by alice: duplicate order")
      assert.strictEqual(entry.by, "alice")
      assert.strictEqual(entry.attempt, 1)
      assert.deepStrictEqual(result.job, job)
    }))

  it.effect("cancelling a paused job cancels it; without a reason the message names only who", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const id = yield* seedJob({ queue: "cancel-paused", state: "paused" })
      yield* commands.cancel({ id, by: "bob" })
      const job = yield* readJob(id)
      assert.strictEqual(job.state, "cancelled")
      const entry = job.errorHistory[0]!
      assert.strictEqual(entry.kind !== "dropped" && entry.message, "cancelled by bob")
    }))

  it.effect("a running job cannot be cancelled and is left untouched", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const id = yield* seedJob({ queue: "cancel-running", state: "running", history: history3 })
      const before = yield* readJob(id)
      const error = yield* Effect.flip(commands.cancel({ id, by: "alice" }))
      assert.strictEqual(error._tag, "Redrive/JobRunning")
      if (error._tag !== "Redrive/JobRunning") return
      assert.strictEqual(error.lockedBy, "worker-7")
      assert.deepStrictEqual(error.lockedUntil, before.lockedUntil)
      assert.deepStrictEqual(yield* readJob(id), before)
    }))

  it.effect("cancelling twice returns the cancelled job with one history entry; a completed job is refused", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const id = yield* seedJob({ queue: "cancel-twice" })
      const first = yield* commands.cancel({ id, by: "alice", reason: "first" })
      const second = yield* commands.cancel({ id, by: "bob", reason: "second" })
      assert.isFalse(first.alreadyCancelled)
      assert.isTrue(second.alreadyCancelled)
      assert.deepStrictEqual(second.job, first.job)
      assert.strictEqual((yield* readJob(id)).errorHistory.length, 1)

      const done = yield* seedJob({ queue: "cancel-done", state: "completed" })
      const error = yield* Effect.flip(commands.cancel({ id: done, by: "alice" }))
      assert.strictEqual(error._tag, "Redrive/JobAlreadyFinished")
      assert.strictEqual(error._tag === "Redrive/JobAlreadyFinished" && error.state, "completed")
      assert.strictEqual((yield* readJob(done)).state, "completed")

      const missing = yield* Effect.flip(commands.cancel({ id: Ids.JobId.make(987_654_321), by: "alice" }))
      assert.strictEqual(missing._tag, "Redrive/JobNotFound")
    }))

  it.effect("the cancel entry respects the history cap", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const long = Array.from({ length: ErrorHistory.defaultCap }, (_, i) => ({ ...history3[0]!, attempt: i + 1 }))
      const id = yield* seedJob({ queue: "cancel-cap", history: long })
      yield* commands.cancel({ id, by: "alice" })
      const history = (yield* readJob(id)).errorHistory
      assert.strictEqual(history.length, ErrorHistory.defaultCap)
      assert.deepStrictEqual(history[1], { kind: "dropped", count: 2, at: history[history.length - 1]!.at })
      assert.strictEqual(history[history.length - 1]!.kind, "discarded")
    }))

  it.scoped("retryNow makes a scheduled job due now and wakes its queue", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const received = yield* listenForWakeUps
      const id = yield* seedJob({ queue: "retry-now-q", runInSeconds: 3600, history: history3 })
      const scheduled = yield* readJob(id)
      const result = yield* commands.retryNow({ id, by: "alice" })
      const now = yield* dbNow
      assert.isTrue(result.rescheduled)
      const job = yield* readJob(id)
      assert.strictEqual(job.state, "available")
      assert.isTrue(job.runAt.getTime() <= now.getTime(), "run_at is not in the future")
      assert.isTrue(job.runAt.getTime() > now.getTime() - 5_000, "run_at is now, not some time ago")
      assert.isTrue(scheduled.runAt.getTime() > now.getTime() + 3_000_000)
      assert.deepStrictEqual(job.errorHistory, history3)
      assert.strictEqual(job.attempt, scheduled.attempt)
      const woken = yield* Queue.take(received).pipe(
        Effect.repeat({ until: (p) => p !== "probe" }),
        Effect.timeout(Duration.seconds(5))
      )
      assert.strictEqual(woken, "retry-now-q")

      // Already due: nothing to move (the workers are nudged all the same).
      const again = yield* commands.retryNow({ id, by: "alice" })
      assert.isFalse(again.rescheduled)
      assert.deepStrictEqual(again.job.runAt, job.runAt)
    }))

  it.effect("retryNow refuses a running or finished job and reports an unknown one", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const running = yield* seedJob({ queue: "retry-running", state: "running" })
      const before = yield* readJob(running)
      const error = yield* Effect.flip(commands.retryNow({ id: running, by: "alice" }))
      assert.strictEqual(error._tag, "Redrive/JobRunning")
      assert.deepStrictEqual(yield* readJob(running), before)

      const cancelled = yield* seedJob({ queue: "retry-cancelled", state: "cancelled" })
      const finished = yield* Effect.flip(commands.retryNow({ id: cancelled, by: "alice" }))
      assert.strictEqual(finished._tag, "Redrive/JobAlreadyFinished")

      const missing = yield* Effect.flip(commands.retryNow({ id: Ids.JobId.make(987_654_321), by: "alice" }))
      assert.strictEqual(missing._tag, "Redrive/JobNotFound")
    }))

  it.effect("a tenant cannot see, cancel or reschedule another tenant's job", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const a = Ids.TenantId.make("cmd-a")
      const b = Ids.TenantId.make("cmd-b")
      const id = yield* seedJob({ queue: "rls-q", tenant: a, runInSeconds: 3600 })
      const before = yield* readJob(id)
      const seen = yield* Effect.flip(Tenant.withTenant(b, commands.get({ kind: "job", id })))
      assert.strictEqual(seen._tag, "Redrive/JobNotFound")
      const cancelled = yield* Effect.flip(Tenant.withTenant(b, commands.cancel({ id, by: "mallory" })))
      assert.strictEqual(cancelled._tag, "Redrive/JobNotFound")
      const moved = yield* Effect.flip(Tenant.withTenant(b, commands.retryNow({ id, by: "mallory" })))
      assert.strictEqual(moved._tag, "Redrive/JobNotFound")
      assert.deepStrictEqual(yield* readJob(id), before)
      const [dlqId] = yield* seedDeadLetters({ queue: "rls-dlq", count: 1, tenant: a })
      const dead = yield* Effect.flip(Tenant.withTenant(b, commands.get({ kind: "dead_letter", id: dlqId! })))
      assert.strictEqual(dead._tag, "Redrive/DeadLetterNotFound")

      const own = yield* Tenant.withTenant(a, commands.cancel({ id, by: "alice" }))
      assert.strictEqual(own.job.state, "cancelled")
      assert.strictEqual(own.job.tenantId, a)
    }))
})
