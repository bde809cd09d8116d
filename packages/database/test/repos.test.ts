import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { ControlRepo } from "../src/ControlRepo.js"
import { JobRepo } from "../src/JobRepo.js"
import { TestDatabase } from "../src/testing/index.js"
import { Factory as F } from "../src/testing/index.js"

const Test = Layer.mergeAll(JobRepo.Default, ControlRepo.Default).pipe(Layer.provideMerge(TestDatabase.layer))

layer(Test, { excludeTestServices: true })("JobRepo and ControlRepo", (it) => {
  it.effect("insert returns the stored job with its payload verbatim", () =>
    Effect.gen(function*() {
      const jobs = yield* JobRepo
      const input = F.job({ payload: { user_id: 7, nested: { snake_key: [1, 2] } }, idempotencyKey: "k1" })
      const job = yield* jobs.insert(input)
      assert.deepStrictEqual(job.payload, input.payload)
      assert.strictEqual(job.idempotencyKey, "k1")
      assert.deepStrictEqual(Option.getOrThrow(yield* jobs.findById(job.id)), job)
    }))

  it.effect("insertMany writes N jobs in one statement and returns their ids in input order", () =>
    Effect.gen(function*() {
      const jobs = yield* JobRepo
      const sql = yield* SqlClient.SqlClient
      const input = Array.from({ length: 2500 }, (_, i) => F.job({ payload: { i }, queue: F.queue("bulk") }))
      const ids = yield* jobs.insertMany(input)
      assert.strictEqual(ids.length, 2500)
      const rows = yield* sql<{ id: string; i: number }>`
        select id, (payload->>'i')::int as i from redrive.job where queue = 'bulk' order by id`
      assert.deepStrictEqual(rows.map((r) => Number(r.id)), [...ids])
      assert.deepStrictEqual(rows.map((r) => r.i), input.map((_, i) => i))
      assert.deepStrictEqual(yield* jobs.insertMany([]), [])
    }))

  it.effect("control upsert, get and remove", () =>
    Effect.gen(function*() {
      const controls = yield* ControlRepo
      const scope = { tenantId: F.tenant(), queue: "*" as const }
      assert.isTrue(Option.isNone(yield* controls.get(scope)))
      const paused = yield* controls.upsert({
        ...scope,
        state: "paused",
        reason: "incident 42",
        initiatedBy: "ops",
        initiatedAt: new Date(),
        drainCompletedAt: null
      })
      assert.strictEqual(paused.state, "paused")
      const drained = yield* controls.upsert({
        ...scope,
        state: "drained",
        reason: "maintenance",
        initiatedBy: "ops",
        initiatedAt: new Date(),
        drainCompletedAt: new Date()
      })
      assert.strictEqual(drained.state, "drained")
      assert.deepStrictEqual(Option.getOrThrow(yield* controls.get(scope)), drained)
      assert.strictEqual(Option.getOrThrow(yield* controls.remove(scope)).state, "drained")
      assert.isTrue(Option.isNone(yield* controls.get(scope)))
    }))
})
