import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Ids } from "@redrive/database"
import { AdminClient, Factory, TestDatabase } from "@redrive/database/testing"
import { Chunk, Clock, Duration, Effect, Exit, Fiber, Layer, Metric, Queue, TestClock, TestContext } from "effect"
import * as JobRegistry from "../src/JobRegistry.js"
import * as Metrics from "../src/Metrics.js"
import { Replay } from "../src/Replay.js"
import * as ReplayModule from "../src/Replay.js"
import {
  driveToEnd,
  Email,
  replayCounts,
  seedDeadLetters,
  stampsMatchJobs,
  unreplayed,
  untilAsleepOrDone
} from "./replayFixtures.js"
import { listenForWakeUps } from "./notifyFixtures.js"
import { assertPausedUntilResumed, deadLettersInPausedScopes } from "./pausedScopeFixtures.js"

const TestLayer = ReplayModule.layer().pipe(
  Layer.provideMerge(JobRegistry.layer([Email])),
  Layer.provideMerge(TestDatabase.layer)
)

/** runBulk on a Replay with its own options (small batches, to get several). */
const runBulkWith = (options: ReplayModule.ReplayOptions, id: Ids.ReplayRequestId, workerId: string) =>
  Effect.flatMap(Replay, (replay) => replay.runBulk(id, workerId)).pipe(Effect.provide(ReplayModule.layer(options)))

const queueFilter = (queue: string) => ({ queue: Ids.QueueName.make(queue) })

/** Every id was replayed into exactly one job, and its stamp points at that job. */
const assertReplayedOnce = (ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const counts = yield* replayCounts(ids)
    assert.strictEqual(counts.size, ids.length, "every dead letter has a job")
    assert.isTrue([...counts.values()].every((n) => n === 1), "no dead letter has two jobs")
    assert.strictEqual(yield* unreplayed(ids), 0)
    assert.strictEqual(yield* stampsMatchJobs(ids), ids.length)
  })

const setLease = (id: string, lockedBy: string, seconds: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`update redrive.replay_request set state = 'running', locked_by = ${lockedBy},
          locked_until = now() + ${seconds}::int * interval '1 second'
        where id = ${id}`)

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("Replay bulk", (it) => {
  it.effect("a dry run counts what a real run then replays, and replays nothing", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const matching = yield* seedDeadLetters({ queue: "dry", count: 30 })
      const otherType = yield* seedDeadLetters({ queue: "dry", count: 10, type: "sms.send" })
      const already = yield* seedDeadLetters({ queue: "dry", count: 5 })
      for (const id of already) yield* replay.replayOne({ id, by: "earlier" })
      const filter = { ...queueFilter("dry"), type: Ids.JobType.make("email.send") }

      const dry = yield* replay.createBulk({ filter, scopeTenant: "*", dryRun: true, requestedBy: "alice" })
      assert.deepInclude(dry, { state: "done", matched: 30, replayed: 0, dryRun: true })
      assert.isNotNull(dry.finishedAt)
      assert.strictEqual(yield* unreplayed(matching), 30)
      assert.strictEqual((yield* replay.runBulk(dry.id, "w1"))._tag, "NotClaimed")
      assert.strictEqual(yield* unreplayed(matching), 30)

      const real = yield* replay.createBulk({ filter, scopeTenant: "*", dryRun: false, requestedBy: "alice" })
      assert.deepInclude(real, { state: "pending", matched: 30 })
      const run = yield* runBulkWith({ batchSize: 7 }, real.id, "w1")
      assert.strictEqual(run._tag, "Done")
      assert.deepInclude(run.request, { state: "done", replayed: dry.matched, lockedBy: null })
      assert.isNotNull(run.request.startedAt)
      assert.isNotNull(run.request.finishedAt)
      yield* assertReplayedOnce(matching)
      assert.strictEqual(yield* unreplayed(otherType), 10)
      // Bulk-replayed jobs carry the same lineage and history entry as single replays.
      const sql = yield* SqlClient.SqlClient
      const entries = yield* sql<{ by: string; kind: string }>`
        select error_history -> -1 ->> 'by' as by, error_history -> -1 ->> 'kind' as kind
        from redrive.job where replay_of = any(${matching}::bigint[])`
      assert.isTrue(entries.every((e) => e.by === "alice" && e.kind === "replayed"))
    }))

  it.effect("a bulk replay into paused scopes creates paused jobs that no worker runs until the scopes resume", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const deadLetters = yield* deadLettersInPausedScopes
      const request = yield* replay.createBulk({
        filter: { ids: deadLetters.map((d) => d.dlqId) },
        scopeTenant: "*",
        dryRun: false,
        requestedBy: "alice"
      })
      const run = yield* replay.runBulk(request.id, "w1")
      assert.strictEqual(run._tag, "Done")
      assert.strictEqual(run.request.replayed, deadLetters.length)
      yield* assertPausedUntilResumed(deadLetters)
    }))

  it.effect("dead letters that arrive after the request are not part of it", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const before = yield* seedDeadLetters({ queue: "snapshot", count: 12 })
      const request = yield* replay.createBulk({
        filter: queueFilter("snapshot"),
        scopeTenant: "*",
        dryRun: false,
        requestedBy: "alice"
      })
      const after = yield* seedDeadLetters({ queue: "snapshot", count: 5 })
      const run = yield* runBulkWith({ batchSize: 5 }, request.id, "w1")
      assert.deepInclude(run.request, { state: "done", matched: 12, replayed: 12 })
      yield* assertReplayedOnce(before)
      assert.strictEqual(yield* unreplayed(after), 5)
    }))

  it.effect("sparse matches spread over many scan windows are all replayed, and the run ends", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const ids: Array<number> = []
      const noise: Array<number> = []
      for (let i = 0; i < 12; i++) {
        ids.push(...(yield* seedDeadLetters({ queue: "sparse", count: i % 3 === 0 ? 4 : 1 })))
        noise.push(...(yield* seedDeadLetters({ queue: "sparse-noise", count: 7 })))
      }
      const request = yield* replay.createBulk({
        filter: queueFilter("sparse"),
        scopeTenant: "*",
        dryRun: false,
        requestedBy: "a"
      })
      assert.strictEqual(request.matched, ids.length)
      const run = yield* runBulkWith({ batchSize: 1, scanWindow: 5 }, request.id, "w1")
      assert.deepInclude(run.request, { state: "done", replayed: ids.length })
      yield* assertReplayedOnce(ids)
      assert.strictEqual(yield* unreplayed(noise), noise.length)
      // An ids filter is read in one window whatever the gaps between the ids.
      const picked = [noise[0]!, noise[noise.length - 1]!].map((n) => Ids.DlqId.make(n))
      const byIds = yield* replay.createBulk({ filter: { ids: picked }, scopeTenant: "*", dryRun: false, requestedBy: "a" })
      const idsRun = yield* runBulkWith({ batchSize: 1, scanWindow: 5 }, byIds.id, "w1")
      assert.deepInclude(idsRun.request, { state: "done", matched: 2, replayed: 2 })
      yield* assertReplayedOnce(picked)
    }))

  it.effect("a request whose max_dlq_id was raised to 1e16 walks the dead letters that exist, not id ranges, and replays its matches", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      const tenant = Factory.tenant()
      const queue = Factory.queue()
      const noise = yield* seedDeadLetters({ queue: Factory.queue(), count: 5, tenant })
      // A gap of ten million unused ids before the matches: walking id ranges would crawl through it.
      // (Moving a sequence is the administrator's: the runtime role only draws from it.)
      const info = yield* TestDatabase.TestDatabaseInfo
      yield* AdminClient.adminQuery(info.adminDatabaseUrl, `select setval(pg_get_serial_sequence('redrive.job_dlq', 'id'),
        nextval(pg_get_serial_sequence('redrive.job_dlq', 'id')) + 10000000)`)
      const ids = yield* seedDeadLetters({ queue, count: 7, tenant })
      const request = yield* replay.createBulk({ filter: queueFilter(queue), scopeTenant: tenant, dryRun: false, requestedBy: "a" })
      // A request row edited by hand (tenants cannot: TenantAttacks.test.ts) to a snapshot far beyond any dead letter.
      yield* sql`update redrive.replay_request set max_dlq_id = 10000000000000000 where id = ${request.id}`
      const [rows] = yield* sql<{ n: string; max: string }>`select count(*) as n, max(id) as max from redrive.job_dlq`
      const scanWindow = 50
      const batchesBefore = (yield* Metric.value(Metrics.replayBatchesTotal)).count
      const run = yield* runBulkWith({ batchSize: 5, scanWindow }, request.id, "w1").pipe(Effect.timeout("20 seconds"))
      const batches = (yield* Metric.value(Metrics.replayBatchesTotal)).count - batchesBefore
      assert.deepInclude(run.request, { state: "done", matched: 7, replayed: 7 })
      // The claim clamped the snapshot to the newest dead letter that existed.
      assert.isAtMost(run.request.maxDlqId, Number(rows!.max))
      yield* assertReplayedOnce(ids)
      assert.strictEqual(yield* unreplayed(noise), noise.length)
      // Bounded by the rows that exist (one scan per window of them, plus the last short one).
      assert.isAtMost(batches, Math.ceil(Number(rows!.n) / scanWindow) + 2)
    }))

  it.effect("slow start: the first batch is small and each one doubles up to the batch size", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const ids = yield* seedDeadLetters({ queue: "slow-start", count: 800 })
      const request = yield* replay.createBulk({
        filter: queueFilter("slow-start"),
        scopeTenant: "*",
        dryRun: false,
        requestedBy: "a"
      })
      const before = (yield* Metric.value(Metrics.replayBatchesTotal)).count
      const run = yield* runBulkWith({ batchSize: 1000 }, request.id, "w1")
      assert.deepInclude(run.request, { state: "done", matched: 800, replayed: 800 })
      // 250, then 500, then the last 50 (of at most 1000): the first jobs ran while the rest waited.
      assert.strictEqual((yield* Metric.value(Metrics.replayBatchesTotal)).count - before, 3)
      yield* assertReplayedOnce(ids)
    }))

  it.effect("a tenant scope replays only that tenant; `*` covers every tenant", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const a = yield* seedDeadLetters({ queue: "scoped", count: 6, tenant: "scope-a" })
      const b = yield* seedDeadLetters({ queue: "scoped", count: 4, tenant: "scope-b" })
      const all = yield* replay.createBulk({ filter: queueFilter("scoped"), scopeTenant: "*", dryRun: true, requestedBy: "x" })
      assert.strictEqual(all.matched, 10)
      const onlyA = yield* replay.createBulk({
        filter: queueFilter("scoped"),
        scopeTenant: Ids.TenantId.make("scope-a"),
        dryRun: false,
        requestedBy: "x"
      })
      assert.strictEqual(onlyA.matched, 6)
      assert.strictEqual((yield* replay.runBulk(onlyA.id, "w1"))._tag, "Done")
      yield* assertReplayedOnce(a)
      assert.strictEqual(yield* unreplayed(b), 4)
    }))

  it.effect("creating a request with the same id again returns the existing request", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      yield* seedDeadLetters({ queue: "same-id", count: 3 })
      const id = Ids.ReplayRequestId.make("6f1c1a4e-0d6b-4a39-9c1e-5a7f3d2b8c01")
      const input = { id, filter: queueFilter("same-id"), scopeTenant: "*" as const, dryRun: false, requestedBy: "a" }
      const first = yield* replay.createBulk(input)
      yield* seedDeadLetters({ queue: "same-id", count: 2 })
      const again = yield* replay.createBulk({ ...input, ratePerSec: 9 })
      assert.deepStrictEqual(again, first)
      assert.strictEqual(again.matched, 3)
      const rows = yield* sql<{ n: string }>`select count(*) as n from redrive.replay_request where id = ${id}`
      assert.strictEqual(rows[0]?.n, "1")
    }))

  it.effect("bad bulk input is refused with the field named", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const base = { filter: queueFilter("bad"), scopeTenant: "*" as const, dryRun: true, requestedBy: "a" }
      const rate = yield* Effect.flip(replay.createBulk({ ...base, ratePerSec: 0 }))
      assert.deepInclude(rate, { _tag: "Redrive/InvalidBulkReplay", field: "ratePerSec" })
      const by = yield* Effect.flip(replay.createBulk({ ...base, requestedBy: "" }))
      assert.deepInclude(by, { _tag: "Redrive/InvalidBulkReplay", field: "requestedBy" })
      const range = yield* Effect.flip(replay.createBulk({
        ...base,
        filter: { dlqFrom: new Date("2026-02-01"), dlqTo: new Date("2026-01-01") }
      }))
      assert.deepInclude(range, { _tag: "Redrive/InvalidBulkReplay", field: "filter.dlqTo" })
    }))

  it.effect("the rate limit caps each batch at ratePerSec and waits a second between batches", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const ids = yield* seedDeadLetters({ queue: "rate", count: 10 })
      const request = yield* replay.createBulk({
        filter: queueFilter("rate"),
        scopeTenant: "*",
        dryRun: false,
        ratePerSec: 4,
        requestedBy: "a"
      })
      const fiber = yield* Effect.fork(replay.runBulk(request.id, "w1"))
      const progress = () => Effect.map(replay.get(request.id), (r) => r.replayed)

      assert.strictEqual(yield* untilAsleepOrDone(fiber), "asleep")
      assert.strictEqual(yield* progress(), 4)
      const now = yield* Clock.currentTimeMillis
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* TestClock.sleeps()), [now + 1000])

      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* untilAsleepOrDone(fiber), "asleep")
      assert.strictEqual(yield* progress(), 4, "no batch before the second is up")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* untilAsleepOrDone(fiber), "asleep")
      assert.strictEqual(yield* progress(), 8)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* untilAsleepOrDone(fiber), "done")
      const run = yield* driveToEnd(fiber)
      assert.deepInclude(run.request, { state: "done", replayed: 10 })
      yield* assertReplayedOnce(ids)
    }).pipe(Effect.provide(TestContext.TestContext)))

  it.effect("cancel stops a running request before its next batch", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const ids = yield* seedDeadLetters({ queue: "cancel", count: 20 })
      const request = yield* replay.createBulk({
        filter: queueFilter("cancel"),
        scopeTenant: "*",
        dryRun: false,
        ratePerSec: 5,
        requestedBy: "a"
      })
      const fiber = yield* Effect.fork(replay.runBulk(request.id, "w1"))
      assert.strictEqual(yield* untilAsleepOrDone(fiber), "asleep")
      const cancelled = yield* replay.cancel(request.id)
      assert.deepInclude(cancelled, { state: "cancelled", replayed: 5, lockedBy: null })
      const run = yield* driveToEnd(fiber)
      assert.strictEqual(run._tag, "Cancelled")
      assert.deepInclude(run.request, { state: "cancelled", replayed: 5 })
      assert.strictEqual(yield* unreplayed(ids), 15)
      assert.strictEqual((yield* replayCounts(ids)).size, 5)
      // Cancelling again, or running it, changes nothing.
      assert.deepStrictEqual(yield* replay.cancel(request.id), run.request)
      assert.strictEqual((yield* replay.runBulk(request.id, "w2"))._tag, "NotClaimed")
      assert.strictEqual(yield* unreplayed(ids), 15)
    }).pipe(Effect.provide(TestContext.TestContext)))

  it.effect("a run interrupted after its first batch, or crashed, is resumed and replays every dead letter once", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const ids = yield* seedDeadLetters({ queue: "resume", count: 25 })
      const request = yield* replay.createBulk({
        filter: queueFilter("resume"),
        scopeTenant: "*",
        dryRun: false,
        ratePerSec: 10,
        requestedBy: "a"
      })
      const first = yield* Effect.fork(replay.runBulk(request.id, "runner-a"))
      assert.strictEqual(yield* untilAsleepOrDone(first), "asleep")
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(first)))
      // An interrupted run hands the request back at once.
      assert.deepInclude(yield* replay.get(request.id), { state: "pending", replayed: 10, lockedBy: null })

      // A runner that crashed (lease still live) keeps the request: nobody else may take it...
      yield* setLease(request.id, "crashed-runner", 3600)
      assert.strictEqual((yield* replay.runBulk(request.id, "runner-b"))._tag, "NotClaimed")
      assert.strictEqual((yield* replay.get(request.id)).replayed, 10)
      // ...until its lease expires.
      yield* setLease(request.id, "crashed-runner", -1)
      const run = yield* driveToEnd(yield* Effect.fork(replay.runBulk(request.id, "runner-b")))
      assert.strictEqual(run._tag, "Done")
      assert.deepInclude(run.request, { state: "done", matched: 25, replayed: 25 })
      yield* assertReplayedOnce(ids)
    }).pipe(Effect.provide(TestContext.TestContext)))

  it.effect("a runner whose lease was taken over stops before its next batch", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const ids = yield* seedDeadLetters({ queue: "taken-over", count: 9 })
      const request = yield* replay.createBulk({
        filter: queueFilter("taken-over"),
        scopeTenant: "*",
        dryRun: false,
        ratePerSec: 3,
        requestedBy: "a"
      })
      const slow = yield* Effect.fork(replay.runBulk(request.id, "runner-a"))
      assert.strictEqual(yield* untilAsleepOrDone(slow), "asleep")
      // runner-a stalled past its lease and runner-b claimed the request meanwhile.
      yield* setLease(request.id, "runner-b", 3600)
      const run = yield* driveToEnd(slow)
      assert.strictEqual(run._tag, "LeaseLost")
      assert.deepInclude(run.request, { state: "running", lockedBy: "runner-b", replayed: 3 })
      assert.strictEqual(yield* unreplayed(ids), 6)
      yield* setLease(request.id, "runner-b", -1)
      assert.strictEqual((yield* driveToEnd(yield* Effect.fork(replay.runBulk(request.id, "runner-c"))))._tag, "Done")
      yield* assertReplayedOnce(ids)
    }).pipe(Effect.provide(TestContext.TestContext)))

  it.effect("two runners started together: one runs, the other is refused; no dead letter is replayed twice", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const ids = yield* seedDeadLetters({ queue: "two-runners", count: 1200 })
      const request = yield* replay.createBulk({
        filter: queueFilter("two-runners"),
        scopeTenant: "*",
        dryRun: false,
        requestedBy: "a"
      })
      const runs = yield* Effect.all(
        [runBulkWith({ batchSize: 100 }, request.id, "runner-a"), runBulkWith({ batchSize: 100 }, request.id, "runner-b")],
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(runs.map((r) => r._tag).sort(), ["Done", "NotClaimed"])
      assert.deepInclude(yield* replay.get(request.id), { state: "done", replayed: 1200 })
      yield* assertReplayedOnce(ids)
    }))

  it.effect("an unexpected error marks the request failed with the error", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      // job.queue is limited to 128 characters, job_dlq.queue is not: the job insert fails.
      const badQueue = "q".repeat(200)
      yield* seedDeadLetters({ queue: badQueue, count: 3 })
      const request = yield* replay.createBulk({
        filter: { fingerprint: `fp-${badQueue}` },
        scopeTenant: "*",
        dryRun: false,
        requestedBy: "a"
      })
      const error = yield* Effect.flip(replay.runBulk(request.id, "w1"))
      assert.strictEqual(error._tag, "Redrive/DatabaseError")
      const failed = yield* replay.get(request.id)
      assert.deepInclude(failed, { state: "failed", replayed: 0, lockedBy: null })
      assert.include(failed.error ?? "", "job_queue_valid")
      const jobs = yield* sql<{ n: string }>`select count(*) as n from redrive.job where queue = ${badQueue}`
      assert.strictEqual(jobs[0]?.n, "0")
    }))

  it.scoped("each batch NOTIFYs the workers of the queues it replayed into", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const received = yield* listenForWakeUps
      yield* seedDeadLetters({ queue: "wake-1", count: 3, errorClass: "wake_me" })
      yield* seedDeadLetters({ queue: "wake-2", count: 3, errorClass: "wake_me" })
      const request = yield* replay.createBulk({
        filter: { errorClass: Ids.ErrorClass.make("wake_me") },
        scopeTenant: "*",
        dryRun: false,
        requestedBy: "a"
      })
      yield* replay.runBulk(request.id, "w1")
      const woken = new Set<string>()
      while (!(woken.has("wake-1") && woken.has("wake-2"))) {
        const next = yield* Queue.take(received).pipe(Effect.timeout(Duration.seconds(5)))
        if (next !== "probe") woken.add(next)
      }
      assert.deepStrictEqual([...woken].sort(), ["wake-1", "wake-2"])
    }))
})
