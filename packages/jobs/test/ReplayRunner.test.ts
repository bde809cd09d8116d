import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { type DlqFilter, Ids } from "@redrive/database"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Fiber, Layer } from "effect"
import * as JobRegistry from "../src/JobRegistry.js"
import { Replay } from "../src/Replay.js"
import * as ReplayModule from "../src/Replay.js"
import * as ReplayRunner from "../src/ReplayRunner.js"
import { Email, replayCounts, seedDeadLetters, unreplayed } from "./replayFixtures.js"

const TestLayer = ReplayModule.layer({ batchSize: 50 }).pipe(
  Layer.provideMerge(JobRegistry.layer([Email])),
  Layer.provideMerge(TestDatabase.layer)
)

const runner = (workerId: string) => ReplayRunner.layer({ workerId, pollInterval: "20 millis" })

/** Waits (real time) until the request reaches `state`. */
const awaitState = (id: Ids.ReplayRequestId, state: string) =>
  Effect.flatMap(Replay, (replay) =>
    replay.get(id).pipe(
      Effect.delay("20 millis"),
      Effect.repeat({ until: (r) => r.state === state }),
      Effect.timeout("15 seconds")
    ))

const bulk = (queue: string, filter: DlqFilter.DlqFilter = { queue: Ids.QueueName.make(queue) }) =>
  Effect.flatMap(Replay, (replay) =>
    replay.createBulk({
      filter,
      scopeTenant: "*",
      dryRun: false,
      requestedBy: "ops"
    }))

const assertReplayedOnce = (ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const counts = yield* replayCounts(ids)
    assert.strictEqual(counts.size, ids.length)
    assert.isTrue([...counts.values()].every((n) => n === 1))
    assert.strictEqual(yield* unreplayed(ids), 0)
  })

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("ReplayRunner", (it) => {
  it.effect("the runner picks up a pending request and replays it to the end", () =>
    Effect.gen(function*() {
      const ids = yield* seedDeadLetters({ queue: "runner-basic", count: 120 })
      const request = yield* bulk("runner-basic")
      const done = yield* awaitState(request.id, "done").pipe(Effect.provide(runner("runner-1")))
      assert.deepInclude(done, { replayed: 120, matched: 120, lockedBy: null })
      yield* assertReplayedOnce(ids)
    }))

  it.effect("a request whose runner crashed mid-way is resumed once its lease expires", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      const ids = yield* seedDeadLetters({ queue: "runner-crash", count: 130 })
      const request = yield* bulk("runner-crash")
      yield* sql`update redrive.replay_request set rate_per_sec = 50 where id = ${request.id}`
      // First run: one batch of 50, then stopped during the second it waits for the rate limit...
      const fiber = yield* Effect.fork(replay.runBulk(request.id, "crashed-runner"))
      yield* replay.get(request.id).pipe(
        Effect.delay("5 millis"),
        Effect.repeat({ until: (r) => r.replayed > 0 }),
        Effect.timeout("5 seconds")
      )
      yield* Fiber.interrupt(fiber)
      // ...and, like a killed process, it never handed its lease back.
      yield* sql`update redrive.replay_request
                 set state = 'running', locked_by = 'crashed-runner',
                     locked_until = now() + interval '400 milliseconds', rate_per_sec = null
                 where id = ${request.id}`
      assert.strictEqual(yield* unreplayed(ids), 80)

      const done = yield* Effect.gen(function*() {
        yield* Effect.sleep("150 millis")
        // The lease is still live: the runner leaves the request alone.
        assert.deepInclude(yield* replay.get(request.id), { lockedBy: "crashed-runner", replayed: 50 })
        return yield* awaitState(request.id, "done")
      }).pipe(Effect.provide(runner("runner-2")))
      assert.deepInclude(done, { replayed: 130, matched: 130 })
      yield* assertReplayedOnce(ids)
    }))

  it.effect("a failing request is marked failed and the runner goes on with the next one", () =>
    Effect.gen(function*() {
      const badQueue = "r".repeat(200)
      yield* seedDeadLetters({ queue: badQueue, count: 2 })
      const failing = yield* bulk(badQueue, { fingerprint: `fp-${badQueue}` })
      const goodIds = yield* seedDeadLetters({ queue: "runner-after-failure", count: 10 })
      const good = yield* bulk("runner-after-failure")
      const [failed, done] = yield* Effect.all([awaitState(failing.id, "failed"), awaitState(good.id, "done")]).pipe(
        Effect.provide(runner("runner-3"))
      )
      assert.include(failed.error ?? "", "job_queue_valid")
      assert.strictEqual(done.replayed, 10)
      yield* assertReplayedOnce(goodIds)
    }))

  it.effect("two runners share several requests and replay every dead letter exactly once", () =>
    Effect.gen(function*() {
      const queues = ["shared-1", "shared-2", "shared-3", "shared-4"]
      const ids: Array<number> = []
      const requests: Array<Ids.ReplayRequestId> = []
      for (const queue of queues) {
        ids.push(...(yield* seedDeadLetters({ queue, count: 200 })))
        requests.push((yield* bulk(queue)).id)
      }
      const finished = yield* Effect.forEach(requests, (id) => awaitState(id, "done")).pipe(
        Effect.provide(Layer.merge(runner("runner-a"), runner("runner-b")))
      )
      assert.deepStrictEqual(finished.map((r) => r.replayed), [200, 200, 200, 200])
      yield* assertReplayedOnce(ids)
    }))
})
