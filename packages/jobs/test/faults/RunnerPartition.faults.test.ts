/**
 * A network partition between a cluster runner and Postgres (the TCP proxy of the partition
 * scenario), while the runners still reach each other. @effect/cluster decides who is alive by
 * pinging runners over their sockets, so the cut-off runner, which still answers pings, keeps its
 * shards: a persisted Replay sent from the other runner to one of its entities waits (stored, not
 * lost) until the partition heals, and is then answered once, with one replayed job. README,
 * "Cluster mode", says so; what this proves is that the wait loses and doubles nothing.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Fiber, Redacted } from "effect"
import { ownedBy, replayedInto, spawnRunner } from "../clusterFixtures.js"
import { seedDeadLetters } from "../replayFixtures.js"
import { tcpProxy, via } from "./tcpProxy.js"

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "150 seconds" })("fault suite: a runner cut off from Postgres", (it) => {
  it.effect("a command to the cut-off runner's entity waits for the heal, then is answered once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const info = yield* TestDatabase.TestDatabaseInfo
      yield* sql`create table handled_log (entity_id text not null, request_id text not null, pid int not null,
        at timestamptz not null default clock_timestamp())`
      const ids = yield* seedDeadLetters({ queue: "cluster-partition", count: 40 })
      const target = new URL(Redacted.value(info.url))
      const proxy = yield* tcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
      const a = yield* spawnRunner(info.url)
      const cut = yield* spawnRunner(via(info.url, proxy.port))
      const [entity] = yield* ownedBy(cut, a, ids, 1)

      yield* proxy.partition
      const asked = yield* Effect.fork(a.ask({ op: "replay", dlq: entity!, requestId: "partition-1" }, 120_000))
      yield* Effect.sleep("20 seconds")
      yield* proxy.heal
      const healedAt = Date.now()
      // On a timeout, the cut-off runner's own log (shard lock health, releases) says why.
      const reply = yield* Fiber.join(asked).pipe(
        Effect.mapError((e) => new Error(`${e.message}\n--- the cut-off runner (${cut.pid}):\n${cut.output()}`))
      )
      const answeredMs = Date.now() - healedAt
      assert.isTrue(reply.ok, JSON.stringify(reply))
      yield* Effect.sleep("5 seconds")
      const handled = yield* sql<{ pid: number }>`select pid from handled_log where request_id = 'partition-1'`
      console.log(
        `fault suite runner partition: a replay sent to the cut-off runner's entity during a 20 s partition ` +
          `answered ${answeredMs} ms after the heal; handled by ${JSON.stringify(handled.map((h) => h.pid === a.pid ? "the other runner" : "the cut-off runner"))}; ` +
          `replayed jobs: ${yield* replayedInto(entity!)}`
      )
      assert.strictEqual(yield* replayedInto(entity!), 1, "one replayed job, after the heal too")
      assert.strictEqual(handled.length, 1, "handled once")
    }).pipe(Effect.scoped), 240_000)
})
