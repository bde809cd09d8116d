/**
 * Maintenance runs in exactly one process per database, elected without any configuration, and
 * moves to another process when its leader dies.
 */
import { SingleRunner } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { AdminClient, Cleanup, Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, Logger } from "effect"
import * as ClusterRunner from "../src/ClusterRunner.js"
import * as Maintenance from "../src/Maintenance.js"
import { leaderLockKey } from "../src/Maintenance.js"
import { processTestTimeout, spawnWorker } from "./processFixtures.js"
import { eventually } from "./workerFixtures.js"

/** Sessions holding the leader's advisory lock: must be exactly one. */
const leaders = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ n: number }>`select count(*)::int as n from pg_locks
      where locktype = 'advisory' and granted and classid = ${leaderLockKey[0]} and objid = ${leaderLockKey[1]}
        and database = (select oid from pg_database where datname = current_database())`,
    (rows) => rows[0]!.n
  ))


layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("maintenance", (it) => {
  it.effect("two worker processes elect one leader; SIGKILL it and the other takes over within 10 s", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const settings = { ELECTION_MILLIS: "2000", MAINTENANCE: "on" }
      const a = yield* spawnWorker(info.url, settings)
      yield* a.waitFor(/this process leads/)
      const b = yield* spawnWorker(info.url, settings)
      yield* b.waitFor(/worker process ready/)
      // Several election rounds: b keeps trying, a keeps leading, one lock holder throughout.
      for (let i = 0; i < 5; i++) {
        yield* Effect.sleep("1 second")
        assert.strictEqual(yield* leaders, 1)
      }
      assert.notMatch(b.output(), /this process leads/)

      const killed = Date.now()
      a.child.kill("SIGKILL")
      yield* a.exited
      const tookOver = yield* b.waitFor(/this process leads/, 10_000)
      const takeover = tookOver - killed
      assert.isBelow(takeover, 10_000)
      assert.strictEqual(yield* leaders, 1)
      yield* Effect.log(`maintenance takeover after SIGKILL: ${takeover} ms`)
    }).pipe(Effect.scoped), processTestTimeout)

  it.effect("on @effect/cluster the same tasks run as a Singleton: an expired lease is rescued", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const job = yield* Factory.insertJob({ maxAttempts: 3, ...Factory.abandoned("gone-runner", 1) })
      yield* Layer.buildWithScope(
        Maintenance.layerCluster({ rescuer: { interval: "200 millis" } }).pipe(
          Layer.provide(SingleRunner.layer({ runnerStorage: "sql" }))
        ),
        yield* Effect.scope
      )
      const state = Effect.map(
        sql<{ state: string }>`select state from redrive.job where id = ${job.id}`,
        (rows) => rows[0]?.state
      )
      assert.strictEqual(yield* eventually(state, (s) => s === "available", "30 seconds"), "available")
    }).pipe(Effect.scoped))

  // A demo or worker left running on the server's admin database leads its maintenance for as
  // long as it lives (and a cluster runner holds its start lock while it builds); test setup
  // (templates, cleanup) takes its own lock there and must not wait for either.
  it.scoped("a leading maintenance process does not block test setup on the same database", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const service = yield* AdminClient.adminSession(info.adminDatabaseUrl)
      // Waiting for them: the file's other tests share this database, and a worker process they
      // SIGKILLed may still hold the leader's lock for the moment Postgres takes to end its session.
      for (const key of [leaderLockKey, ClusterRunner.startLockKey]) {
        yield* service.query("select pg_advisory_lock($1, $2)", key).pipe(Effect.disconnect, Effect.timeout("30 seconds"))
      }
      const setup = yield* AdminClient.adminSession(info.adminDatabaseUrl)
      // Disconnected: taking the lock is uninterruptible, and a blocked setup must fail the test, not hang it.
      const ran = yield* Cleanup.withLock(setup, Effect.succeed("setup ran")).pipe(Effect.disconnect, Effect.timeout("5 seconds"))
      assert.strictEqual(ran, "setup ran")
    }))

  it.scoped("the leader warns when the server runs without autovacuum, and only then", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [setting] = yield* sql<{ autovacuum: string }>`select current_setting('autovacuum') as autovacuum`
      const logged: Array<string> = []
      const capture = Logger.make(({ message }) => {
        logged.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
      })
      // Waits for the lock: the file's other tests may leave a leader for a moment.
      yield* Layer.buildWithScope(
        Maintenance.layer({
          rescuer: false, circuitBreaker: false, pruner: false, drainWatcher: false, alerts: false, metrics: false,
          electionInterval: "200 millis"
        }).pipe(Layer.provide(Logger.replace(Logger.defaultLogger, capture))),
        yield* Effect.scope
      )
      yield* eventually(Effect.sync(() => logged.some((m) => m.includes("this process leads"))), (led) => led, "30 seconds")
      const warned = logged.some((m) => m.includes("autovacuum is off on this server"))
      assert.strictEqual(warned, setting!.autovacuum === "off", `autovacuum ${setting!.autovacuum}: ${logged.join(" | ")}`)
    }))
})
