/**
 * Two real runner processes (ClusterRunner, socket transport, default failover settings) over one
 * test database: a persisted Replay sent from runner A to a dead letter whose shard runner B
 * holds is handled by B; when B is SIGKILLed, a Replay sent from A to another of B's entities is
 * answered within 10 s, handled exactly once, by A. Prints the measured failover time.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect } from "effect"
import { ownedBy, spawnRunner } from "./clusterFixtures.js"
import { processTestTimeout } from "./processFixtures.js"
import { seedDeadLetters } from "./replayFixtures.js"

const handled = (requestId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ pid: number; entityId: string }>`select pid, entity_id from handled_log where request_id = ${requestId}`)

const replayedInto = (dlq: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ n: string }>`select count(*) as n from redrive.job where replay_of = ${dlq}`, (r) => Number(r[0]!.n)))

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "150 seconds" })("two cluster runners", (it) => {
  it.scoped("route a persisted command to the owner, and fail a dead owner's entity over to the survivor, once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const info = yield* TestDatabase.TestDatabaseInfo
      yield* sql`create table handled_log (entity_id text not null, request_id text not null, pid int not null,
        at timestamptz not null default clock_timestamp())`
      const ids = yield* seedDeadLetters({ queue: "cluster", count: 40 })
      // A first: it creates the cluster tables; B then joins and takes about half the shards.
      const a = yield* spawnRunner(info.url)
      const b = yield* spawnRunner(info.url)
      const [routed, failover] = yield* ownedBy(b, a, ids, 2)

      // Routing: sent from A, handled by B (its pid in handled_log), answered at A.
      const first = yield* a.ask({ op: "replay", dlq: routed!, requestId: "routed-1" })
      assert.isTrue(first.ok, JSON.stringify(first))
      assert.deepStrictEqual((yield* handled("routed-1")).map((r) => r.pid), [b.pid])
      assert.strictEqual(yield* replayedInto(routed!), 1)

      // Failover: B dies without a goodbye; A sends to an entity B owned.
      const killedAt = Date.now()
      b.kill("SIGKILL")
      assert.strictEqual(yield* b.exited, "SIGKILL")
      const reply = yield* a.ask({ op: "replay", dlq: failover!, requestId: "failover-1" }, 20_000)
      const failoverMs = Date.now() - killedAt
      console.log(`cluster failover: SIGKILL of the owner -> reply from the survivor in ${failoverMs} ms`)
      assert.isTrue(reply.ok, JSON.stringify(reply))
      assert.isBelow(failoverMs, 10_000)
      // Exactly once, by the survivor; nothing shows up late either.
      yield* Effect.sleep("2 seconds")
      assert.deepStrictEqual((yield* handled("failover-1")).map((r) => r.pid), [a.pid])
      assert.strictEqual(yield* replayedInto(failover!), 1)
      assert.deepStrictEqual((yield* handled("routed-1")).map((r) => r.pid), [b.pid])
    }), processTestTimeout)
})
