/**
 * Operator controls through the library (Controls, over the SQL functions of 0018) with a real
 * worker: a paused tenant starts nothing while another tenant's jobs run, new jobs into it wait,
 * a resume runs them; a drain completes exactly once after its last running job; the waiting
 * jobs move in bounded batches; every change is audited and alerted; bad input names its field.
 */
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Layer, Ref, Schema } from "effect"
import * as Controls from "../src/Controls.js"
import * as DrainWatcher from "../src/DrainWatcher.js"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import { alertsOf, channel, eventsOf, insertWaiting, statesOf } from "./controlFixtures.js"
import { eventually, withWorker } from "./workerFixtures.js"

const Test = Layer.merge(TestDatabase.layer, Controls.layer().pipe(Layer.provide(TestDatabase.layer)))
const Payload = Schema.Struct({ n: Schema.Number })
const payloads = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i }))
const worker = { keepCompleted: true, maintenance: false, concurrency: 50 } as const

layer(Test, { excludeTestServices: true, timeout: "90 seconds" })("controls", (it) => {
  it.effect("a tenant paused under a running worker starts nothing while another's 1,000 jobs complete; enqueue into it waits; resume runs them", () =>
    Effect.gen(function*() {
      const controls = yield* Controls.Controls
      const Def = JobDefinition.make({ name: Factory.unique("ctl"), queue: Factory.queue(), payload: Payload })
      const paused = Factory.tenant()
      const other = Factory.tenant()
      const gate = yield* Deferred.make<void>()
      const starts = yield* Ref.make(new Map<string, number>())
      const started = (tenant: string) => Effect.map(Ref.get(starts), (m) => m.get(tenant) ?? 0)

      yield* Enqueue.many(Def, payloads(1000), { tenantId: other })
      yield* withWorker(
        {
          ...worker,
          handlers: [JobDefinition.handle(Def, (_, ctx) =>
            Ref.update(starts, (m) => new Map(m).set(ctx.tenantId, (m.get(ctx.tenantId) ?? 0) + 1)).pipe(
              Effect.zipRight(Deferred.await(gate))
            ))]
        },
        Effect.gen(function*() {
          // The worker is full (it holds 50 of the other tenant's jobs; those started wait on the gate): the paused tenant's
          // jobs wait in the table, claimable the moment there is room — until the pause.
          yield* eventually(statesOf(other), (s) => s.running === worker.concurrency)
          yield* Enqueue.many(Def, payloads(300), { tenantId: paused })
          const pause = yield* controls.pause({ tenantId: paused, reason: "billing provider outage", by: "alice" })
          assert.deepStrictEqual(
            [pause.control?.tenantId, pause.control?.queue, pause.control?.state, pause.moved],
            [paused, "*", "paused", 300]
          )
          yield* Deferred.succeed(gate, undefined)
          // Accepted while paused: they wait as `paused`.
          const late = yield* Enqueue.many(Def, payloads(100), { tenantId: paused })
          assert.strictEqual(late.length, 100)
          yield* eventually(started(other), (n) => n === 1000, "60 seconds")
          yield* eventually(statesOf(other), (s) => s.completed === 1000)
          assert.strictEqual(yield* started(paused), 0)
          assert.deepStrictEqual(yield* statesOf(paused), { paused: 400 })

          const resume = yield* controls.resume({ tenantId: paused, by: "bob" })
          assert.deepStrictEqual([resume.control?.state, resume.moved], ["paused", 400])
          yield* eventually(started(paused), (n) => n === 400, "60 seconds")
        })
      )
      assert.deepStrictEqual(yield* statesOf(paused), { completed: 400 })
      assert.deepStrictEqual(yield* eventsOf(paused, "*"), [
        { action: "pause", previousState: null, reason: "billing provider outage", actor: "alice" },
        { action: "resume", previousState: "paused", reason: null, actor: "bob" }
      ])
      // A resume of a scope with no control changes nothing and audits nothing.
      const again = yield* controls.resume({ tenantId: paused, by: "bob" })
      assert.deepStrictEqual([again.control, again.moved], [null, 0])
      assert.strictEqual((yield* eventsOf(paused, "*")).length, 2)
    }))

  it.effect("a drain stops new starts and becomes drained exactly once, after the last running job finishes", () =>
    Effect.gen(function*() {
      const controls = yield* Controls.Controls
      const Def = JobDefinition.make({ name: Factory.unique("drain"), queue: Factory.queue(), payload: Payload })
      const tenantId = Factory.tenant()
      const ops = yield* channel(tenantId, ["control.drain_started", "control.drain_completed"])
      const gate = yield* Deferred.make<void>()
      const running = yield* Ref.make(0)
      const drainedOf = (result: { readonly drained: ReadonlyArray<{ readonly tenantId: string }> }) =>
        result.drained.filter((c) => c.tenantId === tenantId).length
      yield* Enqueue.many(Def, payloads(3), { tenantId })
      yield* withWorker(
        {
          ...worker,
          handlers: [JobDefinition.handle(Def, () =>
            Ref.update(running, (n) => n + 1).pipe(Effect.zipRight(Deferred.await(gate))))]
        },
        Effect.gen(function*() {
          yield* eventually(Ref.get(running), (n) => n === 3)
          const drain = yield* controls.drain({ tenantId, queue: Def.queue, by: "carol" })
          assert.strictEqual(drain.control?.state, "draining")
          yield* Enqueue.many(Def, payloads(2), { tenantId })
          // Three still run: not drained, however often the watcher looks.
          assert.strictEqual(drainedOf(yield* DrainWatcher.runOnce()), 0)
          assert.strictEqual(drainedOf(yield* DrainWatcher.runOnce()), 0)
          assert.strictEqual((yield* controls.list).find((c) => c.tenantId === tenantId)?.state, "draining")

          yield* Deferred.succeed(gate, undefined)
          yield* eventually(statesOf(tenantId), (s) => s.completed === 3)
          // Two passes at once (a leader handover), then more: it completes once.
          const [a, b] = yield* Effect.all([DrainWatcher.runOnce(), DrainWatcher.runOnce()], { concurrency: 2 })
          const later = yield* DrainWatcher.runOnce()
          assert.strictEqual(drainedOf(a) + drainedOf(b) + drainedOf(later), 1)
          const row = (yield* controls.list).find((c) => c.tenantId === tenantId)
          assert.strictEqual(row?.state, "drained")
          assert.instanceOf(row?.drainCompletedAt, Date)
          // The two enqueued during the drain never started.
          assert.deepStrictEqual(yield* statesOf(tenantId), { completed: 3, paused: 2 })
          assert.strictEqual(yield* Ref.get(running), 3)
        })
      )
      assert.deepStrictEqual(yield* eventsOf(tenantId, Def.queue), [
        { action: "drain", previousState: null, reason: null, actor: "carol" },
        { action: "drain_completed", previousState: "draining", reason: null, actor: "drain-watcher" }
      ])
      assert.deepStrictEqual((yield* alertsOf(ops, tenantId, Def.queue)).map((a) => a.event), [
        "control.drain_started",
        "control.drain_completed"
      ])
    }))

  it.effect("30,000 waiting jobs are paused and resumed in batches of at most 5,000", () =>
    Effect.gen(function*() {
      const controls = yield* Controls.make({ batchSize: 5000 })
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      yield* insertWaiting(tenantId, queue, "bulk", 30_000)
      const pause = yield* controls.pause({ tenantId, queue, reason: "maintenance", by: "ops" })
      // Six full batches and the one that finds the rest empty.
      assert.deepStrictEqual([pause.moved, pause.batches], [30_000, 7])
      assert.deepStrictEqual(yield* statesOf(tenantId), { paused: 30_000 })
      const resume = yield* controls.resume({ tenantId, queue, by: "ops" })
      assert.deepStrictEqual([resume.moved, resume.batches], [30_000, 7])
      assert.deepStrictEqual(yield* statesOf(tenantId), { available: 30_000 })
      yield* controls.pause({ tenantId, queue, reason: "cleanup", by: "ops" })
    }))

  it.effect("every change is audited with actor, reason and previous state, and alerted to the channels that want it", () =>
    Effect.gen(function*() {
      const controls = yield* Controls.Controls
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const mine = yield* channel(tenantId, [])
      const pausesOnly = yield* channel(tenantId, ["control.paused"])
      const disabled = yield* channel(tenantId, [], false)
      const someoneElses = yield* channel(Factory.tenant(), [])
      yield* controls.pause({ tenantId, queue, reason: "noisy neighbour", by: "alice" })
      // Pausing a paused scope changes nothing.
      yield* controls.pause({ tenantId, queue, reason: "again", by: "alice" })
      yield* controls.drain({ tenantId, queue, by: "bob" })
      yield* controls.resume({ tenantId, queue, by: "carol" })
      assert.deepStrictEqual(yield* eventsOf(tenantId, queue), [
        { action: "pause", previousState: null, reason: "noisy neighbour", actor: "alice" },
        { action: "drain", previousState: "paused", reason: null, actor: "bob" },
        { action: "resume", previousState: "draining", reason: null, actor: "carol" }
      ])
      assert.deepStrictEqual(yield* alertsOf(mine, tenantId, queue), [
        { event: "control.paused", actor: "alice", previousState: null, tenantId },
        { event: "control.drain_started", actor: "bob", previousState: "paused", tenantId },
        { event: "control.resumed", actor: "carol", previousState: "draining", tenantId }
      ])
      assert.deepStrictEqual((yield* alertsOf(pausesOnly, tenantId, queue)).map((a) => a.event), ["control.paused"])
      assert.deepStrictEqual(yield* alertsOf(disabled, tenantId, queue), [])
      assert.deepStrictEqual(yield* alertsOf(someoneElses, tenantId, queue), [])
      const page = yield* controls.events({ tenantId, queue, limit: 2 })
      assert.deepStrictEqual(page.map((e) => e.action), ["resume", "drain"])
      const next = yield* controls.events({ tenantId, queue, before: page[1]!.id })
      assert.deepStrictEqual(next.map((e) => e.action), ["pause"])
    }))

  it.effect("bad input is refused naming the field, and nothing is written", () =>
    Effect.gen(function*() {
      const controls = yield* Controls.Controls
      const tenantId = Factory.tenant()
      const field = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
        Effect.map(Effect.flip(effect), (e) => [e._tag, "field" in e ? e.field : undefined])
      const invalid = (f: string) => ["Redrive/InvalidInput", f]
      assert.deepStrictEqual(yield* field(controls.pause({ tenantId: "", reason: "r", by: "a" })), invalid("tenantId"))
      assert.deepStrictEqual(yield* field(controls.pause({ tenantId, queue: "", reason: "r", by: "a" })), invalid("queue"))
      assert.deepStrictEqual(yield* field(controls.pause({ tenantId, reason: " ", by: "a" })), invalid("reason"))
      assert.deepStrictEqual(yield* field(controls.pause({ tenantId, reason: "r", by: "" })), invalid("by"))
      assert.deepStrictEqual(yield* field(controls.drain({ tenantId, queue: "x".repeat(129), by: "a" })), invalid("queue"))
      assert.deepStrictEqual(yield* field(controls.resume({ tenantId, by: "  " })), invalid("by"))
      assert.deepStrictEqual(yield* field(controls.events({ limit: 0 })), invalid("limit"))
      assert.deepStrictEqual(yield* eventsOf(tenantId, "*"), [])
      // `default` (work enqueued without a tenant) is a scope like any other.
      const d = yield* controls.pause({ tenantId: "default", queue: Factory.queue(), reason: "single tenant", by: "a" })
      assert.strictEqual(d.control?.tenantId, "default")
      yield* controls.resume({ tenantId: "default", queue: d.control!.queue, by: "a" })
    }))
})
