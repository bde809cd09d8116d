/**
 * Leases: a worker keeps the lease of a job it runs (periodically, and when the handler calls
 * `ctx.heartbeat`); a worker that lost a job's lease to another worker cannot settle it; and a
 * job whose lease expired on its last attempt is dead-lettered once, whoever moves it first.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory } from "@redrive/database"
import { Factory as F, TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Option, Ref, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Rescuer from "../src/Rescuer.js"
import * as Verdict from "../src/Verdict.js"
import * as Worker from "../src/Worker.js"
import { dlqRows, failureStats, jobRow } from "./jobRows.js"
import { eventually, fastWorker, withWorker } from "./workerFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })

const Lease = Schema.Struct({
  state: Schema.String,
  attempt: Schema.Int,
  lockedBy: Schema.NullOr(Schema.String),
  lockedUntil: Schema.NullOr(Schema.DateFromSelf),
  heartbeatAt: Schema.NullOr(Schema.DateFromSelf),
  entries: Schema.Int,
  /** The database's clock when the row was read: leases are compared with it, not with ours. */
  dbNow: Schema.DateFromSelf
})
type Lease = typeof Lease.Type

/** The lease of a job as the database sees it now. */
const leaseOf = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    SqlSchema.single({
      Request: Schema.Number,
      Result: Lease,
      execute: (jobId) =>
        sql`select state, attempt, locked_by, locked_until, heartbeat_at, jsonb_array_length(error_history) as entries,
                   now() as db_now
            from redrive.job where id = ${jobId}`
    })(id))

interface TakeoverCase {
  readonly name: string
  readonly keepCompleted: boolean
  /** Attempts made before this one: after a failure, even a success settles through the settle statement. */
  readonly history: ErrorHistory.ErrorHistory
  readonly maxAttempts: number
  readonly outcome: Effect.Effect<void, Error | Verdict.Verdict>
}

const failedBefore = [F.history3[0]!]
const upstreamDown = Effect.fail(new Error("upstream 503"))

const takeover = (
  name: string,
  outcome: TakeoverCase["outcome"],
  options: Partial<TakeoverCase> = {}
): TakeoverCase => ({
  name,
  outcome,
  keepCompleted: false,
  history: [],
  maxAttempts: 3,
  ...options
})

const takeovers: ReadonlyArray<TakeoverCase> = [
  takeover("a first success (fast path, deleted)", Effect.void),
  takeover("a first success (fast path, kept)", Effect.void, { keepCompleted: true }),
  takeover("a success after a failure (settle, deleted)", Effect.void, { history: failedBefore }),
  takeover("a success after a failure (settle, kept)", Effect.void, { history: failedBefore, keepCompleted: true }),
  takeover("a failure with attempts left (retry)", upstreamDown),
  takeover("a discard", Effect.fail(Verdict.discard("order cancelled"))),
  takeover("a failure on the last attempt (dead letter)", upstreamDown, { maxAttempts: 1, keepCompleted: true })
]

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("worker leases", (it) => {
  for (const c of takeovers) {
    it.effect(`a worker whose lease was taken over cannot settle the job: ${c.name}`, () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tenantId = F.tenant()
        const Def = JobDefinition.make({ name: "taken.over", payload: Payload, queue: F.queue() })
        const job = yield* F.insertJob({
          tenantId,
          queue: Def.queue,
          type: Def.name,
          payload: { n: 1 },
          attempt: c.history.length,
          maxAttempts: c.maxAttempts + c.history.length,
          errorHistory: c.history
        })
        const started = yield* Deferred.make<void>()
        const finish = yield* Deferred.make<void>()
        const handler = JobDefinition.handle(Def, () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Deferred.await(finish)),
            Effect.zipRight(c.outcome)
          ))
        yield* Effect.scoped(Effect.gen(function*() {
          const worker = yield* Worker.make({ ...fastWorker, handlers: [handler], keepCompleted: c.keepCompleted })
          yield* Deferred.await(started)
          // What a rescue and another worker's claim leave behind: the lease is someone else's now.
          yield* sql`update redrive.job set locked_by = 'other-worker', locked_until = now() + interval '1 hour'
                     where id = ${job.id}`
          const before = Option.getOrThrow(yield* jobRow(job.id))
          yield* Deferred.succeed(finish, undefined)
          // The old worker has settled (or tried to) once it holds no job.
          yield* eventually(worker.inFlight, (n) => n === 0)
          const after = yield* jobRow(job.id)
          assert(Option.isSome(after), "the row is gone: the old worker settled it")
          assert.strictEqual(after.value.state, "running")
          assert.strictEqual(after.value.lockedBy, "other-worker")
          assert.deepStrictEqual(after.value, before, "the row is as the other worker holds it")
        }))
        assert.deepStrictEqual(yield* dlqRows(job.id), [], "not dead-lettered")
        assert.deepStrictEqual(yield* failureStats(tenantId), [], "nothing counted")
      }))
  }

  it.effect("a handler running past its lease keeps it: extended while it runs, not rescued, completed once", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "long.job", payload: Payload, queue: F.queue() })
      const workerId = F.unique("worker")
      const runs = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const finished = yield* Ref.make(false)
      const handler = JobDefinition.handle(Def, () =>
        Ref.update(runs, (n) => n + 1).pipe(
          Effect.zipRight(Deferred.succeed(started, undefined)),
          Effect.zipRight(Effect.sleep("2500 millis")),
          Effect.ensuring(Ref.set(finished, true))
        ))
      yield* withWorker(
        { handlers: [handler], lease: "600 millis", keepCompleted: true, workerId },
        Effect.gen(function*() {
          const { id } = yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
          yield* Deferred.await(started)
          const samples: Array<Lease> = []
          // Every 300 ms while the handler runs: a rescue pass, then the lease as the database sees it.
          while (samples.length < 6 && !(yield* Ref.get(finished))) {
            yield* Effect.sleep("300 millis")
            yield* Rescuer.rescueOnce()
            const lease = yield* leaseOf(id)
            if (!(yield* Ref.get(finished))) samples.push(lease)
          }
          assert.isAtLeast(samples.length, 3, "the lease was looked at while the handler ran")
          for (const [i, s] of samples.entries()) {
            assert.deepStrictEqual(
              { state: s.state, lockedBy: s.lockedBy, attempt: s.attempt, entries: s.entries },
              { state: "running", lockedBy: workerId, attempt: 1, entries: 0 },
              `sample ${i}: still leased by its worker, never rescued`
            )
            assert.isAbove(s.lockedUntil!.getTime(), s.dbNow.getTime(), `sample ${i}: the lease has not expired`)
          }
          const [first, last] = [samples[0]!, samples.at(-1)!]
          assert.isAbove(last.lockedUntil!.getTime(), first.lockedUntil!.getTime(), "the lease moved forward")
          yield* eventually(jobRow(id), (row) => Option.isSome(row) && row.value.state === "completed")
          const done = Option.getOrThrow(yield* jobRow(id))
          assert.strictEqual(done.attempt, 1)
          assert.deepStrictEqual(done.errorHistory, [])
        })
      )
      assert.strictEqual(yield* Ref.get(runs), 1, "the handler ran once")
    }))

  it.effect("ctx.heartbeat pushes the job's lease a full lease ahead", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "heartbeat.job", payload: Payload, queue: F.queue() })
      const seen = yield* Deferred.make<{ readonly expired: Lease; readonly renewed: Lease }>()
      const handler = JobDefinition.handle(Def, (_, ctx) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          // The lease runs out now; the periodic extension (every 10 s with a 30 s lease) is not due.
          yield* sql`update redrive.job set locked_until = now(), heartbeat_at = null where id = ${ctx.jobId}`
          const expired = yield* leaseOf(ctx.jobId)
          yield* ctx.heartbeat
          const renewed = yield* leaseOf(ctx.jobId)
          yield* Deferred.succeed(seen, { expired, renewed })
        }))
      const { expired, renewed } = yield* withWorker(
        // No rescuer here: it would take the job whose lease the handler just ended (it did, about
        // one run in ten) before the heartbeat renews it.
        { handlers: [handler], lease: "30 seconds", maintenance: false },
        Effect.gen(function*() {
          yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
          return yield* Deferred.await(seen)
        })
      )
      assert.isAtMost(expired.lockedUntil!.getTime(), expired.dbNow.getTime(), "the lease had run out")
      const ahead = renewed.lockedUntil!.getTime() - renewed.dbNow.getTime()
      assert.isTrue(ahead > 29_000 && ahead < 30_500, `a lease of 30 s ahead after the heartbeat, got ${ahead} ms`)
      assert.isNotNull(renewed.heartbeatAt, "the heartbeat is recorded")
      assert.strictEqual(renewed.lockedBy, expired.lockedBy)
    }))
  it.effect("the rescuer and the worker racing on an expired last attempt dead-letter it once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = F.tenant()
      const Def = JobDefinition.make({
        name: "expired.last",
        payload: Payload,
        queue: F.queue(),
        retry: { maxAttempts: 1 },
        classify: () => "upstream_down"
      })
      // a: the rescuer moves it first; b: the worker does; c and d: both at the same moment.
      const [a, b, c, d] = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }], { tenantId }))
      const ids = [a!, b!, c!, d!]
      const started = yield* Ref.make(0)
      const finish = yield* Effect.forEach(ids, () => Deferred.make<void>())
      const handler = JobDefinition.handle(Def, (p) =>
        Ref.update(started, (n) => n + 1).pipe(
          Effect.zipRight(Deferred.await(finish[p.n]!)),
          Effect.zipRight(Effect.fail(new Error("upstream 503")))
        ))
      const release = (n: number) => Deferred.succeed(finish[n]!, undefined)
      // The worker stalled past its lease: the lease runs out while the handler still runs.
      const expire = (jobIds: ReadonlyArray<number>) =>
        sql`update redrive.job set locked_until = now() - interval '1 second' where id = any(${jobIds})`
      const movedBy = (jobId: number, errorClass: string) =>
        Effect.gen(function*() {
          assert.isTrue(Option.isNone(yield* jobRow(jobId)), `job ${jobId} left the job table`)
          const dlq = yield* dlqRows(jobId)
          const classes = dlq.map((r) => r.errorClass)
          assert.deepStrictEqual(classes, [errorClass], `job ${jobId} dead-lettered once, as ${errorClass}`)
        })
      const rescuerClass = "timeout"
      const workerClass = "upstream_down"
      yield* Effect.scoped(Effect.gen(function*() {
        // Four jobs held at once, each settled on its own as it finishes; a 60 s lease is not
        // extended again within the test.
        const worker = yield* Worker.make({
          ...fastWorker,
          handlers: [handler],
          lease: "60 seconds",
          batchSize: 1,
          concurrency: 4
        })
        yield* eventually(Ref.get(started), (n) => n === 4)

        yield* expire([a!])
        yield* Rescuer.rescueOnce()
        yield* movedBy(a!, rescuerClass)
        yield* release(0)
        yield* eventually(worker.inFlight, (n) => n === 3)
        yield* movedBy(a!, rescuerClass)

        yield* expire([b!])
        yield* release(1)
        yield* eventually(worker.inFlight, (n) => n === 2)
        yield* movedBy(b!, workerClass)
        yield* Rescuer.rescueOnce()
        yield* movedBy(b!, workerClass)

        yield* expire([c!, d!])
        yield* Effect.all([Rescuer.rescueOnce(), release(2), release(3)], { concurrency: "unbounded" })
        yield* eventually(worker.inFlight, (n) => n === 0)
      }))
      const byClass = new Map<string, number>()
      for (const jobId of ids) {
        assert.isTrue(Option.isNone(yield* jobRow(jobId)), `job ${jobId} left the job table`)
        const dlq = yield* dlqRows(jobId)
        assert.strictEqual(dlq.length, 1, `job ${jobId} has one dead letter`)
        const [row] = dlq
        // The history tells the story of whoever moved it: one entry for the one attempt.
        assert.strictEqual(row!.attempts, 1)
        assert.strictEqual(row!.errorHistory.length, 1)
        const [entry] = row!.errorHistory
        assert(entry !== undefined && entry.kind !== "dropped")
        assert.strictEqual(entry.attempt, 1)
        assert.strictEqual(entry.errorClass, row!.errorClass)
        assert.strictEqual(entry.kind, row!.errorClass === rescuerClass ? "rescued" : "failed")
        byClass.set(row!.errorClass, (byClass.get(row!.errorClass) ?? 0) + 1)
      }
      const stats = yield* failureStats(tenantId)
      const counted = new Map<string, number>()
      for (const s of stats) counted.set(s.errorClass, (counted.get(s.errorClass) ?? 0) + s.deadLettered)
      assert.deepStrictEqual(counted, byClass, "failure_stat counts each dead letter once, under its class")
    }))
})
