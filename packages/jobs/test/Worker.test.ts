import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory } from "@redrive/database"
import { TestDatabase } from "@redrive/database/testing"
import { Duration, Effect, Ref, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import * as Verdict from "../src/Verdict.js"
import { count, eventually, withWorker } from "./workerFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })
const decodeHistory = Schema.decodeUnknownSync(ErrorHistory.ErrorHistory)

const jobRow = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ state: string; attempt: number; runAt: Date; errorHistory: unknown; lockedBy: string | null }>`
        select state, attempt, run_at, error_history, locked_by from redrive.job where id = ${id}`,
      (rows) => rows[0]
    ))

const dlqRow = (jobId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ errorClass: string; attempts: number; errorHistory: unknown; fingerprint: string; errorReason: string }>`
        select error_class, attempts, error_history, fingerprint, error_reason from redrive.job_dlq where job_id = ${jobId}`,
      (rows) => rows[0]
    ))

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("worker", (it) => {
  it.effect("runs a job once and deletes it on success", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "ok.job", payload: Payload, queue: "q-ok" })
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      const ids = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }, { n: 2 }, { n: 3 }]))
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, (p) => Ref.update(seen, (s) => [...s, p.n]))] },
        eventually(count(`redrive.job where queue = 'q-ok'`), (n) => n === 0)
      )
      assert.deepStrictEqual([...(yield* Ref.get(seen))].sort(), [1, 2, 3])
      assert.strictEqual(ids.length, 3)
    }))

  it.effect("a failing job is dead-lettered after N attempts with N history entries", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({
        name: "always.fails",
        payload: Payload,
        queue: "q-fail",
        retry: { maxAttempts: 3, base: 0 }
      })
      const [id] = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 7 }]))
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, (p) => Effect.fail(new Error(`upstream 42 broke for ${p.n}`)))] },
        eventually(count(`redrive.job_dlq where queue = 'q-fail'`), (n) => n === 1)
      )
      assert.strictEqual(yield* count(`redrive.job where queue = 'q-fail'`), 0)
      const dlq = (yield* dlqRow(id!))!
      assert.strictEqual(dlq.attempts, 3)
      assert.strictEqual(dlq.errorClass, "unknown")
      assert.strictEqual(dlq.errorReason, "upstream 42 broke for 7")
      const history = decodeHistory(dlq.errorHistory)
      assert.deepStrictEqual(history.map((h) => h.kind), ["failed", "failed", "failed"])
      assert.deepStrictEqual(history.map((h) => (h.kind === "dropped" ? 0 : h.attempt)), [1, 2, 3])
      const stats = yield* count(`redrive.failure_stat where type = 'always.fails' and failures = 3 and dead_lettered = 1`)
      assert.strictEqual(stats, 1)
    }))

  it.effect("a snooze keeps the attempt count and reschedules the job", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "snoozer", payload: Payload, queue: "q-snooze" })
      const [id] = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }]))
      const runs = yield* Ref.make(0)
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.zipRight(Ref.update(runs, (n) => n + 1), Verdict.snooze("1 hour")))] },
        eventually(jobRow(id!), (row) => row?.state === "available" && decodeHistory(row.errorHistory).length === 1)
      )
      const row = (yield* jobRow(id!))!
      assert.strictEqual(row.attempt, 0)
      assert.isAbove(row.runAt.getTime(), Date.now() + Duration.toMillis("50 minutes"))
      const [entry] = decodeHistory(row.errorHistory)
      assert.strictEqual(entry?.kind, "snoozed")
      assert.strictEqual(yield* Ref.get(runs), 1)
    }))

  it.effect("a discard ends the job as cancelled, not dead-lettered", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "discarder", payload: Payload, queue: "q-discard" })
      const [id] = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }]))
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Verdict.discard("order was cancelled"))] },
        eventually(jobRow(id!), (row) => row?.state === "cancelled")
      )
      const row = (yield* jobRow(id!))!
      const [entry] = decodeHistory(row.errorHistory)
      assert.strictEqual(entry?.kind, "discarded")
      assert.strictEqual(entry?.kind === "dropped" ? "" : entry?.message, "order was cancelled")
      assert.strictEqual(yield* count(`redrive.job_dlq where job_id = ${id}`), 0)
    }))

  it.effect("DeadLetterNow and a validation error dead-letter at once; RetryAt and Retry-After set the next run", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "verdicts", payload: Payload, queue: "q-verdicts", retry: { maxAttempts: 5 } })
      const retryAt = new Date(Date.now() + 3_600_000)
      const ids = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]))
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, (p): Effect.Effect<void, Verdict.Verdict | JobErrors.ClassifiedError> => {
            switch (p.n) {
              case 1:
                return Effect.fail(Verdict.deadLetterNow("poison record", "validation"))
              case 2:
                return Effect.fail(new JobErrors.ValidationError({ message: "email is malformed", field: "email" }))
              case 3:
                return Effect.fail(Verdict.retryAt(retryAt, "maintenance window"))
              default:
                return Effect.fail(new JobErrors.RateLimitError({ message: "slow down", retryAfterMillis: 120_000 }))
            }
          })]
        },
        eventually(
          count(`redrive.job where queue = 'q-verdicts' and state = 'available' and jsonb_array_length(error_history) = 1`),
          (n) => n === 2
        )
      )
      for (const id of [ids[0]!, ids[1]!]) {
        const dlq = (yield* dlqRow(id))!
        assert.strictEqual(dlq.attempts, 1)
        assert.strictEqual(dlq.errorClass, "validation")
      }
      assert.strictEqual((yield* jobRow(ids[2]!))!.runAt.getTime(), retryAt.getTime())
      const limited = (yield* jobRow(ids[3]!))!
      const [entry] = decodeHistory(limited.errorHistory)
      // A rate limit waits without using its attempt.
      assert.deepStrictEqual(entry?.kind === "dropped" ? [] : [entry?.kind, entry?.errorClass], ["waited", "rate_limit"])
      assert.strictEqual(limited.attempt, 0)
      const wait = limited.runAt.getTime() - Date.now()
      assert.isTrue(wait > 100_000 && wait <= 120_000, `retry-after honoured, got ${wait} ms`)
    }))

  it.effect("a handler past its timeout fails as timeout; a defect is recorded with its stack", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({
        name: "slow.or.broken",
        payload: Payload,
        queue: "q-timeout",
        timeout: "200 millis",
        retry: { maxAttempts: 1 }
      })
      const ids = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }, { n: 2 }]))
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, (p) => (p.n === 1 ? Effect.never : Effect.die(new TypeError("x is undefined"))))]
        },
        eventually(count(`redrive.job_dlq where queue = 'q-timeout'`), (n) => n === 2)
      )
      const slow = (yield* dlqRow(ids[0]!))!
      assert.strictEqual(slow.errorClass, "timeout")
      const [timeoutEntry] = decodeHistory(slow.errorHistory)
      assert.strictEqual(timeoutEntry?.kind, "timeout")
      const broken = (yield* dlqRow(ids[1]!))!
      const [defect] = decodeHistory(broken.errorHistory)
      assert.strictEqual(defect?.kind === "dropped" ? "" : defect?.tag, "TypeError")
      assert.include(defect?.kind === "dropped" ? "" : defect?.stack ?? "", "TypeError: x is undefined")
    }))

  it.effect("a stored payload that no longer decodes is dead-lettered as validation", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = JobDefinition.make({ name: "drifted", payload: Payload, queue: "q-drift" })
      const rows = yield* sql<{ id: string }>`
        insert into redrive.job (queue, type, payload) values ('q-drift', 'drifted', '{"n":"not a number"}') returning id`
      const runs = yield* Ref.make(0)
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Ref.update(runs, (n) => n + 1))] },
        eventually(count(`redrive.job_dlq where queue = 'q-drift'`), (n) => n === 1)
      )
      const dlq = (yield* dlqRow(Number(rows[0]!.id)))!
      assert.strictEqual(dlq.errorClass, "validation")
      assert.strictEqual(dlq.attempts, 1)
      assert.strictEqual(yield* Ref.get(runs), 0)
    }))

  it.effect("the history is capped: first entry, a dropped counter, the newest", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "flaky", payload: Payload, queue: "q-cap", retry: { maxAttempts: 12, base: 0 } })
      const [id] = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }]))
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.fail(new Error("nope")))], historyCap: 5 },
        eventually(count(`redrive.job_dlq where queue = 'q-cap'`), (n) => n === 1)
      )
      const history = decodeHistory((yield* dlqRow(id!))!.errorHistory)
      assert.strictEqual(history.length, 5)
      assert.deepStrictEqual(history[1], { kind: "dropped", count: 8, at: history[1]!.at })
      assert.deepStrictEqual(history.map((h) => (h.kind === "dropped" ? -1 : h.attempt)), [1, -1, 10, 11, 12])
    }))

  it.effect("a paused scope is not claimed while other tenants' jobs run", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = JobDefinition.make({ name: "paused.job", payload: Payload, queue: "q-pause" })
      // One job waiting before the pause (still 'available'), more enqueued after it (state 'paused').
      yield* Enqueue.many(Def, [{ n: 0 }], { tenantId: "acme" })
      yield* sql`insert into redrive.control (tenant_id, queue, state, initiated_by) values ('acme', 'q-pause', 'paused', 'ops')`
      yield* Enqueue.many(Def, [{ n: 1 }, { n: 2 }], { tenantId: "acme" })
      yield* Enqueue.many(Def, [{ n: 3 }, { n: 4 }], { tenantId: "globex" })
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, (_, ctx) => Ref.update(ran, (r) => [...r, ctx.tenantId]))] },
        Effect.zipRight(
          eventually(count(`redrive.job where tenant_id = 'globex'`), (n) => n === 0),
          Effect.sleep("300 millis")
        )
      )
      assert.deepStrictEqual(yield* Ref.get(ran), ["globex", "globex"])
      assert.strictEqual(yield* count(`redrive.job where tenant_id = 'acme' and state = 'paused'`), 2)
      assert.strictEqual(yield* count(`redrive.job where tenant_id = 'acme' and state = 'available' and attempt = 0`), 1)
    }))

  it.effect("a worker limited to some tenants leaves the others' jobs alone", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "tenant.job", payload: Payload, queue: "q-tenants" })
      yield* Enqueue.many(Def, [{ n: 1 }, { n: 2 }], { tenantId: "mine" })
      yield* Enqueue.many(Def, [{ n: 3 }], { tenantId: "theirs" })
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, (_, ctx) => Ref.update(ran, (r) => [...r, ctx.tenantId]))], tenants: ["mine"] },
        Effect.zipRight(eventually(count(`redrive.job where tenant_id = 'mine'`), (n) => n === 0), Effect.sleep("200 millis"))
      )
      assert.deepStrictEqual(yield* Ref.get(ran), ["mine", "mine"])
      assert.strictEqual(yield* count(`redrive.job where tenant_id = 'theirs' and state = 'available' and attempt = 0`), 1)
    }))

  it.effect("claims are fair: a tenant with a backlog does not starve a small one", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "fair.job", payload: Payload, queue: "q-fair" })
      // One job at a time (concurrency 1): 300 big jobs are a backlog that 10 small ones must not wait behind.
      yield* Enqueue.many(Def, Array.from({ length: 300 }, (_, n) => ({ n })), { tenantId: "big" })
      yield* Enqueue.many(Def, Array.from({ length: 10 }, (_, n) => ({ n })), { tenantId: "small" })
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, (_, ctx) => Ref.update(order, (o) => [...o, ctx.tenantId]))],
          batchSize: 50,
          concurrency: 1
        },
        eventually(count(`redrive.job where queue = 'q-fair'`), (n) => n === 0, "30 seconds")
      )
      const all = yield* Ref.get(order)
      const lastSmall = all.lastIndexOf("small")
      // Equal shares per batch: the 10 small jobs finish within the first batch of 50, not after 300.
      assert.isBelow(lastSmall, 50, `small tenant finished at position ${lastSmall}`)
      assert.strictEqual(all.length, 310)
    }))

  it.effect("graceful shutdown lets short jobs finish and releases the leases of long ones", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "long.job", payload: Payload, queue: "q-shutdown" })
      const ids = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }, { n: 2 }]))
      const started = yield* Ref.make(0)
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, (p) =>
            Effect.zipRight(Ref.update(started, (n) => n + 1), p.n === 1 ? Effect.sleep("50 millis") : Effect.never))],
          shutdownGrace: "300 millis"
        },
        eventually(Ref.get(started), (n) => n === 2)
      )
      assert.isUndefined(yield* jobRow(ids[0]!), "the short job finished within the grace period")
      const released = (yield* jobRow(ids[1]!))!
      assert.strictEqual(released.state, "available")
      assert.strictEqual(released.attempt, 0, "an interrupted attempt is not used up")
      assert.isNull(released.lockedBy)
      assert.isAtMost(released.runAt.getTime(), Date.now())
    }))
  it.effect("an idle worker that has run jobs stops at once: its parked lane does not wait out the grace", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "parked.job", payload: Payload, queue: "q-parked" })
      const ran = yield* Ref.make(0)
      yield* Enqueue.many(Def, [{ n: 1 }, { n: 2 }, { n: 3 }])
      const [took] = yield* Effect.timed(withWorker(
        {
          handlers: [JobDefinition.handle(Def, () => Ref.update(ran, (n) => n + 1))],
          shutdownGrace: "20 seconds"
        },
        Effect.gen(function*() {
          yield* eventually(Ref.get(ran), (n) => n === 3)
          // Idle again (a lane parked for the next claim), then a job after the pause runs on it.
          yield* Effect.sleep("200 millis")
          yield* Enqueue.one(Def, { n: 4 })
          yield* eventually(Ref.get(ran), (n) => n === 4)
          yield* eventually(count(`redrive.job where queue = 'q-parked'`), (n) => n === 0)
        })
      ))
      // Shutting down waits for running lanes up to the grace (20 s): the parked one is not running.
      assert.isBelow(Duration.toMillis(took), 15_000)
    }))
})
