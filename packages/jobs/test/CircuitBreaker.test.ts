/**
 * The circuit breaker against real Postgres, with real (short) windows: a dependency going down
 * opens its type's circuit, the type's jobs wait as `paused` with their attempts while other
 * types run, probes run after the cool-down, a failed probe re-opens it for longer, successful
 * probes close it and every waiting job completes. Validation failures never open it, an
 * operator's resume is audited and respected, and two maintenance participants act once.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ControlRepo } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, Option, Ref } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Maintenance from "../src/Maintenance.js"
import {
  alertsOf,
  breakerType,
  circuitChannel,
  circuitOf,
  controlOf,
  dependency,
  eventsOf,
  jobsOf,
  Payload,
  statesOf,
  testBreaker,
  untilTransition
} from "./circuitFixtures.js"
import { eventually, withWorker } from "./workerFixtures.js"

const Test = Layer.merge(TestDatabase.layer, ControlRepo.ControlRepo.Default.pipe(Layer.provide(TestDatabase.layer)))

/** The worker of these tests: completed jobs are kept (so they can be counted); maintenance is driven by hand. */
const worker = { keepCompleted: true, maintenance: false, concurrency: 20 } as const

const payloads = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i }))

layer(Test, { excludeTestServices: true, timeout: "120 seconds" })("circuit breaker", (it) => {
  it.effect("a dependency outage: opens, holds the type's jobs with their attempts, probes, re-opens for longer, closes, and every job completes", () =>
    Effect.gen(function*() {
      yield* circuitChannel
      const api = yield* dependency("down")
      const Sync = breakerType("crm.sync")
      const Other = JobDefinition.make({ name: Factory.unique("other"), queue: Sync.queue, payload: Payload })
      const otherRan = yield* Ref.make(0)
      const tenantId = Factory.tenant()
      yield* Enqueue.many(Sync, payloads(30), { tenantId })
      yield* withWorker(
        {
          ...worker,
          handlers: [
            JobDefinition.handle(Sync, () => api.call),
            JobDefinition.handle(Other, () => Ref.update(otherRan, (n) => n + 1))
          ]
        },
        Effect.gen(function*() {
          // 1. Down: the failures cross 50 % of 10 attempts in the window and the circuit opens.
          yield* untilTransition(Sync.name, "Open")
          assert.deepStrictEqual(yield* controlOf(Sync.name), {
            state: "paused",
            reason: "circuit_open",
            initiatedBy: "circuit-breaker"
          })
          // What was running when it opened settles; after that nothing of the type runs.
          const held = yield* eventually(jobsOf(Sync.name), (jobs) => jobs.every((j) => j.state === "paused"))
          assert.strictEqual(held.length, 30, JSON.stringify(statesOf(held)))
          assert.isTrue(held.every((j) => j.attempt >= 1))
          // Other types of the same queue keep running, and new jobs of the type wait as paused.
          yield* Enqueue.many(Other, payloads(5), { tenantId })
          const { id: late } = yield* Enqueue.one(Sync, { n: 99 }, { tenantId })
          yield* eventually(Ref.get(otherRan), (n) => n === 5)
          yield* Effect.sleep("700 millis")
          const still = yield* jobsOf(Sync.name)
          assert.deepStrictEqual(
            still.filter((j) => j.id !== late).map((j) => [j.id, j.attempt]),
            held.map((j) => [j.id, j.attempt]),
            "no attempt was used while the circuit was open"
          )
          assert.deepStrictEqual(still.find((j) => j.id === late), { id: late, state: "paused", attempt: 0 })

          // 2. After the cool-down (1 s) it goes half-open; from the next second two probes run,
          //    fail, and the circuit re-opens for 2 s.
          yield* untilTransition(Sync.name, "HalfOpen")
          const view = (yield* CircuitBreaker.list).find((c) => c.type === Sync.name)
          assert.deepStrictEqual([view?.state, view?.paused, view?.cooldownMs], ["half_open", true, 1000])
          const released = yield* untilTransition(Sync.name, "ReleaseProbes")
          assert.strictEqual(released?.probes, 2)
          assert.strictEqual((yield* controlOf(Sync.name))?.state, "probing")
          yield* untilTransition(Sync.name, "Open")
          const reopened = yield* circuitOf(Sync.name)
          assert.deepStrictEqual([reopened?.state, reopened?.reopens, reopened?.openCooldownMs], ["open", 1, 2000])
          // A failed probe's retry waits as paused (its type is controlled), so it runs once.
          const afterProbes = yield* eventually(jobsOf(Sync.name), (jobs) => jobs.every((j) => j.state === "paused"))
          const attemptBefore = new Map(still.map((j) => [j.id, j.attempt]))
          const used = afterProbes.filter((j) => j.attempt !== attemptBefore.get(j.id))
          // Both probes ran, unless the first failure re-opened it before the second was claimed.
          assert.include([1, 2], used.length, "only probes used an attempt")
          assert.isTrue(used.every((j) => j.attempt === attemptBefore.get(j.id)! + 1), "each probe used one")

          // 3. The dependency is back: after the longer cool-down the probes succeed and it closes.
          yield* Ref.set(api.health, "up")
          yield* untilTransition(Sync.name, "HalfOpen")
          yield* untilTransition(Sync.name, "Close")
          assert.isUndefined(yield* controlOf(Sync.name))
          yield* eventually(jobsOf(Sync.name), (jobs) => jobs.every((j) => j.state === "completed"), "20 seconds")
          const done = yield* jobsOf(Sync.name)
          assert.strictEqual(done.length, 31)
        })
      )
      assert.deepStrictEqual(yield* eventsOf(Sync.name), [
        { action: "pause", previousState: null, reason: "circuit_open", actor: "circuit-breaker" },
        { action: "probe", previousState: "paused", reason: "circuit_half_open", actor: "circuit-breaker" },
        { action: "pause", previousState: "probing", reason: "circuit_open", actor: "circuit-breaker" },
        { action: "probe", previousState: "paused", reason: "circuit_half_open", actor: "circuit-breaker" },
        { action: "resume", previousState: "probing", reason: "circuit_closed", actor: "circuit-breaker" }
      ])
      assert.deepStrictEqual(yield* alertsOf(Sync.name), [
        { event: "circuit.opened", reason: "circuit_open" },
        { event: "circuit.opened", reason: "circuit_open" },
        { event: "circuit.closed", reason: "probes_succeeded" }
      ])
      const closed = yield* circuitOf(Sync.name)
      assert.deepStrictEqual([closed?.state, closed?.reopens, closed?.pendingMove], ["closed", 0, null])
    }))

  it.effect("validation failures never open it, however many; they count as attempts", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const api = yield* dependency("invalid")
      const Sync = breakerType("crm.validate")
      yield* Enqueue.many(Sync, payloads(40), { tenantId: Factory.tenant() })
      yield* withWorker(
        { ...worker, handlers: [JobDefinition.handle(Sync, () => api.call)] },
        // Validation is dead-lettered at once: every job gone to the DLQ.
        eventually(jobsOf(Sync.name), (jobs) => jobs.length === 0)
      )
      const counted = yield* eventually(
        sql<{ attempts: number; failures: number }>`
          select sum(attempts)::int as attempts, sum(failures)::int as failures from redrive.circuit_count
          where type = ${Sync.name}`,
        (rows) => rows[0]?.attempts === 40
      )
      assert.deepStrictEqual(counted[0], { attempts: 40, failures: 0 })
      const step = (yield* CircuitBreaker.runOnce()).find((s) => s.type === Sync.name)
      assert.strictEqual(step?.transition, "Stay")
      assert.strictEqual((yield* circuitOf(Sync.name))?.state, "closed")
      assert.isUndefined(yield* controlOf(Sync.name))
    }))

  it.effect("an operator's resume of an open circuit is audited, closes it with a fresh window, and its jobs run", () =>
    Effect.gen(function*() {
      yield* circuitChannel
      const controls = yield* ControlRepo.ControlRepo
      const api = yield* dependency("down")
      const Sync = breakerType("crm.resume")
      yield* Enqueue.many(Sync, payloads(20), { tenantId: Factory.tenant() })
      yield* withWorker(
        { ...worker, handlers: [JobDefinition.handle(Sync, () => api.call)] },
        Effect.gen(function*() {
          yield* untilTransition(Sync.name, "Open")
          // The operator knows better (the API is back) and lifts the pause before any probe.
          yield* Ref.set(api.health, "up")
          const lifted = yield* controls.resume({ tenantId: "*", queue: "*", type: Sync.name }, {
            by: "alice",
            reason: "vendor confirmed the fix"
          })
          assert.strictEqual(Option.getOrThrow(lifted).reason, "circuit_open")
          const closing = (yield* CircuitBreaker.runOnce()).find((s) => s.type === Sync.name)
          assert.strictEqual(closing?.transition, "Close")
          // The window still holds the outage's failures: they do not open it again.
          for (let i = 0; i < 3; i++) {
            const step = (yield* CircuitBreaker.runOnce()).find((s) => s.type === Sync.name)
            assert.notStrictEqual(step?.transition, "Open")
            yield* Effect.sleep("200 millis")
          }
          yield* eventually(jobsOf(Sync.name), (jobs) => jobs.every((j) => j.state === "completed"), "20 seconds")
        })
      )
      assert.deepStrictEqual(yield* eventsOf(Sync.name), [
        { action: "pause", previousState: null, reason: "circuit_open", actor: "circuit-breaker" },
        { action: "resume", previousState: "paused", reason: "vendor confirmed the fix", actor: "alice" }
      ])
      assert.deepStrictEqual((yield* alertsOf(Sync.name)).map((a) => a.reason), ["circuit_open", "operator_resumed"])
      assert.strictEqual((yield* circuitOf(Sync.name))?.state, "closed")
    }))

  it.effect("closing never un-pauses the jobs of a tenant an operator paused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const api = yield* dependency("down")
      const Sync = breakerType("crm.scoped")
      const [open, paused] = [Factory.tenant(), Factory.tenant()]
      yield* Factory.insertControl({ tenantId: paused, queue: "*" })
      yield* Enqueue.many(Sync, payloads(5), { tenantId: paused })
      yield* Enqueue.many(Sync, payloads(20), { tenantId: open })
      yield* withWorker(
        { ...worker, handlers: [JobDefinition.handle(Sync, () => api.call)] },
        Effect.gen(function*() {
          yield* untilTransition(Sync.name, "Open")
          yield* Ref.set(api.health, "up")
          yield* untilTransition(Sync.name, "HalfOpen")
          yield* untilTransition(Sync.name, "Close")
          const tenantJobs = (tenantId: string) =>
            sql<{ state: string; attempt: number }>`select state, attempt from redrive.job
                                                    where type = ${Sync.name} and tenant_id = ${tenantId}`
          yield* eventually(tenantJobs(open), (jobs) => jobs.every((j) => j.state === "completed"), "20 seconds")
          const waiting = yield* tenantJobs(paused)
          assert.deepStrictEqual(waiting.map((j) => [j.state, j.attempt]), Array(5).fill(["paused", 0]))
        })
      )
    }))

  it.effect("a job of an open circuit's type that slips in as available is not claimed", () =>
    Effect.gen(function*() {
      const api = yield* dependency("down")
      const Sync = breakerType("crm.slip")
      const tenantId = Factory.tenant()
      yield* Enqueue.many(Sync, payloads(12), { tenantId })
      yield* withWorker(
        { ...worker, handlers: [JobDefinition.handle(Sync, () => api.call)] },
        Effect.gen(function*() {
          yield* untilTransition(Sync.name, "Open")
          // Written past enqueue's check, as a row committed between the open and the sweep would be.
          const slipped = yield* Factory.insertJob({ tenantId, queue: Sync.queue, type: Sync.name, payload: { n: 1 } })
          yield* Effect.sleep("600 millis")
          const row = (yield* jobsOf(Sync.name)).find((j) => j.id === slipped.id)
          assert.deepStrictEqual(row, { id: slipped.id, state: "available", attempt: 0 })
        })
      )
    }))

  it.effect("two passes at once, and two maintenance participants, carry each transition out once", () =>
    Effect.gen(function*() {
      yield* circuitChannel
      const api = yield* dependency("down")
      // A window of a minute: on a loaded machine the worker's shutdown alone can outlast the 5 s
      // of the shared test breaker, and both passes would then find nothing to open.
      const Racing = JobDefinition.make({
        name: Factory.unique("crm.race"),
        queue: Factory.queue(),
        payload: Payload,
        retry: { maxAttempts: 50, base: "100 millis", max: "100 millis", jitter: "none" },
        circuitBreaker: { ...testBreaker, window: "60 seconds" }
      })
      yield* Enqueue.many(Racing, payloads(12), { tenantId: Factory.tenant() })
      yield* withWorker(
        { ...worker, handlers: [JobDefinition.handle(Racing, () => api.call)] },
        eventually(circuitCountOf(Racing.name), (n) => n >= 10)
      )
      // Two passes decided on the same version: one opens, the other finds the version gone.
      const [a, b] = yield* Effect.all([CircuitBreaker.runOnce(), CircuitBreaker.runOnce()], { concurrency: 2 })
      const tags = [a, b].map((steps) => steps.find((s) => s.type === Racing.name)?.transition).sort()
      assert.deepStrictEqual(tags, ["Open", "Stay"])
      assert.deepStrictEqual((yield* eventsOf(Racing.name)).map((e) => e.action), ["pause"])
      assert.deepStrictEqual((yield* alertsOf(Racing.name)).map((e) => e.event), ["circuit.opened"])

      // Two participants in the election, each with a breaker every 100 ms: still one of each.
      const Elected = breakerType("crm.elected")
      yield* Enqueue.many(Elected, payloads(12), { tenantId: Factory.tenant() })
      const participant = Maintenance.layer({
        rescuer: false,
        electionInterval: "200 millis",
        circuitBreaker: { interval: "100 millis" }
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const scope = yield* Effect.scope
        yield* Layer.buildWithScope(participant, scope)
        yield* Layer.buildWithScope(participant, scope)
        yield* withWorker(
          { ...worker, handlers: [JobDefinition.handle(Elected, () => api.call)] },
          eventually(circuitOf(Elected.name), (c) => c?.state === "open")
        )
        yield* Effect.sleep("600 millis")
      }))
      // Opened once. On a loaded machine the 1 s cool-down may end before the check, and the
      // half-open step (`probe`) legitimately follows: it is not a second opening.
      const actions = (yield* eventsOf(Elected.name)).map((e) => e.action)
      assert.strictEqual(actions[0], "pause")
      assert.strictEqual(actions.filter((a) => a === "pause").length, 1, actions.join(", "))
      assert.deepStrictEqual(
        (yield* alertsOf(Elected.name)).map((e) => e.event).filter((e) => e === "circuit.opened"),
        ["circuit.opened"]
      )
    }))
})

const circuitCountOf = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ n: number | null }>`select sum(attempts)::int as n from redrive.circuit_count where type = ${type}`,
      (rows) => rows[0]?.n ?? 0
    ))
