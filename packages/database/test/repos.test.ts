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

  it.effect("a control narrowed to a job type is its own row; an operator's resume of it is audited", () =>
    Effect.gen(function*() {
      const controls = yield* ControlRepo
      const sql = yield* SqlClient.SqlClient
      const queue = F.queue()
      const type = F.jobType()
      const whole = { tenantId: "*" as const, queue }
      const typed = { ...whole, type }
      const row = { state: "paused" as const, reason: "circuit_open", initiatedBy: "circuit-breaker", initiatedAt: new Date(), drainCompletedAt: null }
      yield* controls.upsert({ ...whole, ...row })
      const paused = yield* controls.upsert({ ...typed, ...row })
      assert.deepStrictEqual([paused.type, Option.getOrThrow(yield* controls.get(whole)).type], [type, "*"])
      const lifted = yield* controls.resume(typed, { by: "alice", reason: "the API is back" })
      assert.strictEqual(Option.getOrThrow(lifted).type, type)
      assert.isTrue(Option.isNone(yield* controls.get(typed)))
      assert.isTrue(Option.isSome(yield* controls.get(whole)), "the queue's own pause stays")
      assert.isTrue(Option.isNone(yield* controls.resume(typed, { by: "alice" })), "nothing left to lift")
      const events = yield* sql<{ type: string; action: string; previousState: string; reason: string; actor: string }>`
        select type, action, previous_state, reason, actor from redrive.control_event where queue = ${queue}`
      assert.deepStrictEqual(events, [
        { type, action: "resume", previousState: "paused", reason: "the API is back", actor: "alice" }
      ])
    }))
})
