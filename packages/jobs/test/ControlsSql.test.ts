/**
 * The psql runbook: the SQL functions of 0018 called directly have the effect and the audit of
 * the library's calls (which call them), move jobs in bounded batches, refuse bad input with a
 * message naming the field, and `redrive.request_replay` creates the request Replay.createBulk does.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, Queue } from "effect"
import * as Controls from "../src/Controls.js"
import * as DrainWatcher from "../src/DrainWatcher.js"
import * as JobRegistry from "../src/JobRegistry.js"
import * as Replay from "../src/Replay.js"
import { listenForWakeUps } from "./notifyFixtures.js"
import { alertsOf, channel, eventsOf, insertWaiting, statesOf } from "./controlFixtures.js"

const Test = Layer.mergeAll(Controls.layer(), Replay.layer()).pipe(
  Layer.provideMerge(JobRegistry.layer([])),
  Layer.provideMerge(TestDatabase.layer)
)

/** The SQLSTATE, message and detail a psql caller sees. */
const sqlError = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => {
    const cause = (e as { readonly cause?: { readonly code?: string; readonly message?: string; readonly detail?: string } })
      .cause
    return { code: cause?.code, message: cause?.message, detail: cause?.detail }
  })

layer(Test, { excludeTestServices: true, timeout: "60 seconds" })("controls from psql", (it) => {
  it.scoped("pause, drain and resume called as SQL have the library's effect, audit and alerts", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const controls = yield* Controls.Controls
      const viaSql = Factory.tenant()
      const viaLibrary = Factory.tenant()
      const queue = Factory.queue()
      const chSql = yield* channel(viaSql, [])
      const chLib = yield* channel(viaLibrary, [])
      for (const t of [viaSql, viaLibrary]) yield* insertWaiting(t, queue, "x", 250)
      const wakeUps = yield* listenForWakeUps

      // The operator's session: each statement its own transaction.
      const [paused] = yield* sql<{ state: string; initiatedBy: string; reason: string }>`
        select state, initiated_by, reason from redrive.pause(${viaSql}, ${queue}, 'db failover', 'alice')`
      assert.deepStrictEqual(paused, { state: "paused", initiatedBy: "alice", reason: "db failover" })
      // The row is in force at once; the jobs follow one bounded batch per call.
      const batches: Array<{ moved: number; done: boolean }> = []
      for (;;) {
        const [b] = yield* sql<{ moved: number; done: boolean }>`
          select moved, done from redrive.move_controlled_jobs(${viaSql}, ${queue}, 100)`
        if (b === undefined) break
        batches.push(b)
      }
      assert.deepStrictEqual(batches, [{ moved: 100, done: false }, { moved: 100, done: false }, {
        moved: 50,
        done: true
      }])
      assert.deepStrictEqual(yield* statesOf(viaSql), { paused: 250 })
      yield* sql`select redrive.drain(${viaSql}, ${queue}, 'bob')`
      yield* sql`select redrive.resume(${viaSql}, ${queue}, 'carol')`
      // A running leader's drain watcher would move them; here the operator's own calls do.
      const [resumed] = yield* sql<{ moved: number; done: boolean }>`
        select moved, done from redrive.move_controlled_jobs(${viaSql}, ${queue})`
      assert.deepStrictEqual(resumed, { moved: 250, done: true })
      assert.deepStrictEqual(yield* statesOf(viaSql), { available: 250 })
      // The workers of the queue were woken.
      const woken = yield* Queue.take(wakeUps).pipe(Effect.repeat({ until: (q) => q === queue }), Effect.timeout("5 seconds"))
      assert.strictEqual(woken, queue)

      yield* controls.pause({ tenantId: viaLibrary, queue, reason: "db failover", by: "alice" })
      yield* controls.drain({ tenantId: viaLibrary, queue, by: "bob" })
      yield* controls.resume({ tenantId: viaLibrary, queue, by: "carol" })
      assert.deepStrictEqual(yield* statesOf(viaLibrary), { available: 250 })
      assert.deepStrictEqual(yield* eventsOf(viaSql, queue), yield* eventsOf(viaLibrary, queue))
      assert.deepStrictEqual(yield* eventsOf(viaSql, queue), [
        { action: "pause", previousState: null, reason: "db failover", actor: "alice" },
        { action: "drain", previousState: "paused", reason: null, actor: "bob" },
        { action: "resume", previousState: "draining", reason: null, actor: "carol" }
      ])
      const events = (rows: ReadonlyArray<{ event: string; actor: string }>) => rows.map((r) => [r.event, r.actor])
      assert.deepStrictEqual(events(yield* alertsOf(chSql, viaSql, queue)), [
        ["control.paused", "alice"],
        ["control.drain_started", "bob"],
        ["control.resumed", "carol"]
      ])
      assert.deepStrictEqual(events(yield* alertsOf(chSql, viaSql, queue)), events(yield* alertsOf(chLib, viaLibrary, queue)))
    }))

  it.effect("after a psql pause or resume, the drain watcher's pass moves the jobs", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      yield* insertWaiting(tenantId, Factory.queue(), "x", 40)
      yield* sql`select redrive.pause(${tenantId}, '*', 'outage', 'alice')`
      assert.deepStrictEqual(yield* statesOf(tenantId), { available: 40 })
      yield* DrainWatcher.runOnce({ batchSize: 15 })
      assert.deepStrictEqual(yield* statesOf(tenantId), { paused: 40 })
      yield* sql`select redrive.resume(${tenantId}, '*', 'alice')`
      yield* DrainWatcher.runOnce({ batchSize: 15 })
      assert.deepStrictEqual(yield* statesOf(tenantId), { available: 40 })
      const [left] = yield* sql<{ n: number }>`
        select count(*)::int as n from redrive.control_move where tenant_id = ${tenantId}`
      assert.strictEqual(left!.n, 0)
    }))

  it.effect("bad input is refused with SQLSTATE 22023, a message and the field", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = Factory.tenant()
      const refused = (field: string) => ({ code: "22023", detail: `field=${field}` })
      const check = (e: { code?: string | undefined; detail?: string | undefined; message?: string | undefined }) => ({
        code: e.code,
        detail: e.detail
      })
      assert.deepStrictEqual(check(yield* sqlError(sql`select redrive.pause('', 'q', 'r', 'a')`)), refused("tenantId"))
      assert.deepStrictEqual(check(yield* sqlError(sql`select redrive.pause(${t}, null, 'r', 'a')`)), refused("queue"))
      assert.deepStrictEqual(check(yield* sqlError(sql`select redrive.pause(${t}, 'q', '', 'a')`)), refused("reason"))
      assert.deepStrictEqual(check(yield* sqlError(sql`select redrive.drain(${t}, 'q', ' ')`)), refused("by"))
      const message = yield* sqlError(sql`select redrive.resume(null, 'q', 'a')`)
      assert.include(message.message, "tenant must not be empty")
      assert.deepStrictEqual(
        check(yield* sqlError(sql`select * from redrive.request_replay('{"queue": "q", "colour": 1}', 'ops', true)`)),
        refused("filter.colour")
      )
      assert.deepStrictEqual(
        check(yield* sqlError(sql`select * from redrive.request_replay('{"dlqFrom": "yesterday-ish"}', 'ops', true)`)),
        refused("filter.dlqFrom")
      )
      assert.deepStrictEqual(
        check(yield* sqlError(sql`select * from redrive.request_replay('{"ids": [1, -2]}', 'ops', true)`)),
        refused("filter.ids")
      )
      assert.deepStrictEqual(
        check(yield* sqlError(sql`select * from redrive.request_replay('{}', '', true)`)),
        refused("requestedBy")
      )
      const [n] = yield* sql<{ n: number }>`select count(*)::int as n from redrive.control_event where tenant_id = ${t}`
      assert.strictEqual(n!.n, 0)
    }))

  it.effect("request_replay creates the durable request Replay.createBulk creates", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const replay = yield* Replay.Replay
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const matching = yield* Effect.forEach(
        Array.from({ length: 7 }),
        () => Factory.insertDeadLetter({ tenantId, queue, type: Factory.jobType("sync") })
      )
      yield* Factory.insertDeadLetter({ tenantId, queue: Factory.queue() })
      yield* Factory.insertDeadLetter({ tenantId: Factory.tenant(), queue })
      const filter = { tenantId, queue }

      const [dry] = yield* sql<{ id: string; matched: string }>`
        select id, matched from redrive.request_replay(${JSON.stringify(filter)}::jsonb, 'ops', true)`
      assert.strictEqual(Number(dry!.matched), matching.length)
      const viaLibrary = yield* replay.createBulk({ filter, scopeTenant: tenantId, dryRun: true, requestedBy: "ops" })
      assert.strictEqual(viaLibrary.matched, matching.length)
      const viaSql = yield* replay.get(dry!.id)
      const shape = (r: typeof viaSql) => [r.tenantId, r.state, r.matched, r.dryRun, r.requestedBy, r.maxDlqId, r.filter]
      assert.deepStrictEqual(shape(viaSql), shape(viaLibrary))

      // A real request is pending for the runner; ids narrow it like the library's filter.
      const ids = matching.slice(0, 3).map((d) => d.id)
      const [real] = yield* sql<{ id: string; matched: string }>`
        select id, matched from redrive.request_replay(${JSON.stringify({ tenantId, ids })}::jsonb, 'ops', false)`
      const request = yield* replay.get(real!.id)
      assert.deepStrictEqual([request.state, request.matched, request.dryRun], ["pending", 3, false])
      const run = yield* replay.runBulk(request.id, "w1")
      assert.deepStrictEqual([run._tag, run.request.replayed], ["Done", 3])
    }))
})
