/**
 * No head-of-line blocking: each outcome is settled as soon as it is known, and a slow job holds
 * its own place in the worker, not its claim's.
 */
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Ref, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import { count, eventually, withWorker } from "./workerFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number, slow: Schema.Boolean })

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("worker capacity", (it) => {
  it.effect("fast jobs claimed with a slow one are settled while it runs, and new jobs start at once", () =>
    Effect.gen(function*() {
      const queue = Factory.queue()
      const Def = JobDefinition.make({ name: "mixed.speed", payload: Payload, queue })
      const release = yield* Deferred.make<void>()
      const slowRunning = yield* Ref.make(0)
      // Two slow jobs claimed together with five fast ones.
      yield* Enqueue.many(Def, [
        { n: 0, slow: true },
        { n: 1, slow: true },
        ...Array.from({ length: 5 }, (_, i) => ({ n: 10 + i, slow: false }))
      ])
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, (p) =>
            p.slow
              ? Ref.update(slowRunning, (n) => n + 1).pipe(Effect.zipRight(Deferred.await(release)))
              : Effect.void)],
          batchSize: 10,
          concurrency: 10,
          pollInterval: "10 seconds"
        },
        Effect.gen(function*() {
          // The fast ones are gone from the table while both slow ones still run.
          yield* eventually(count(`redrive.job where queue = '${queue}'`), (n) => n === 2, "10 seconds")
          assert.strictEqual(yield* Ref.get(slowRunning), 2)
          assert.strictEqual(yield* count(`redrive.job where queue = '${queue}' and state = 'running'`), 2)
          // Enqueued while the slow ones hold two places: they start and finish at once.
          const started = Date.now()
          yield* Enqueue.many(Def, Array.from({ length: 5 }, (_, i) => ({ n: 20 + i, slow: false })))
          yield* eventually(count(`redrive.job where queue = '${queue}'`), (n) => n === 2, "10 seconds")
          assert.isBelow(Date.now() - started, 3000)
          assert.strictEqual(yield* count(`redrive.job where queue = '${queue}' and state = 'running'`), 2)
          yield* Deferred.succeed(release, undefined)
          yield* eventually(count(`redrive.job where queue = '${queue}'`), (n) => n === 0, "10 seconds")
        })
      )
    }))
})
