/**
 * Two `serve --cluster` processes over one test database: both register as runners at their
 * REDRIVE_RUNNER_PORT and split JobEntity's shards, and replays sent over HTTP to either server
 * all succeed, once each — those of entities the other server owns travel through the cluster.
 * (packages/jobs/test/ClusterRunner.test.ts pins down the routing and failover per pid.)
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, Scratch, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, Schedule } from "effect"
import * as ApiKeys from "../src/auth/ApiKeys.js"
import { post, spawnServer } from "./serverProcess.js"
import { timeout } from "./cliFixtures.js"

const TestLayer = ApiKeys.layer.pipe(Layer.provideMerge(TestDatabase.layer))

/** Shard locks (advisory keys 1000001…) held per Postgres backend: one row per runner's lock connection. */
const shardLockHolders = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ pid: number; shards: string }>`
    select pid, count(*) as shards from pg_locks
    where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())
      and classid = 0 and objid between 1000001 and 1000300 and granted
    group by pid`)

layer(TestLayer, { excludeTestServices: true, timeout: "150 seconds" })("serve --cluster", (it) => {
  it.scoped("two servers are two runners sharing JobEntity: every replay through either is done once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const info = yield* TestDatabase.TestDatabaseInfo
      const [portA, portB] = [yield* Scratch.freePort, yield* Scratch.freePort]
      const a = yield* spawnServer(info.url, ["--cluster"], { REDRIVE_RUNNER_HOST: "127.0.0.1", REDRIVE_RUNNER_PORT: String(portA!) })
      const b = yield* spawnServer(info.url, ["--cluster"], { REDRIVE_RUNNER_HOST: "127.0.0.1", REDRIVE_RUNNER_PORT: String(portB!) })
      // Runners register in the background once built.
      const runners = yield* sql<{ address: string }>`select address from cluster_runners order by address`.pipe(
        Effect.filterOrFail((rows) => rows.length === 2, () => "not registered yet" as const),
        Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 120 }),
        Effect.orElseSucceed(() => [])
      )
      assert.deepStrictEqual(
        runners.map((r) => r.address).sort(),
        [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`].sort(),
        "each server registered its runner address"
      )
      // Both hold shards once B's join has been noticed (refresh every second).
      const holders = yield* shardLockHolders.pipe(
        Effect.filterOrFail((rows) => rows.length === 2, () => "not split yet" as const),
        Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 40 })
      )
      assert.strictEqual(holders.reduce((n, r) => n + Number(r.shards), 0), 30, "SHARDS_PER_GROUP=30, each held once")

      const admin = yield* ApiKeys.ApiKeys.pipe(Effect.flatMap((k) => k.create({ name: "cluster-admin", tenant: null, access: "write" })))
      const tenant = Factory.tenant()
      const dlqs = yield* Effect.forEach(Array.from({ length: 12 }), () => Factory.insertDeadLetter({ tenantId: tenant }))
      for (const [i, dlq] of dlqs.entries()) {
        const server = i % 2 === 0 ? a : b
        const reply = yield* post(server.baseUrl, `/v1/dead-letters/${dlq.id}/replay`, {}, admin.secret)
        assert.strictEqual(reply.status, 200, reply.text)
      }
      const replays = yield* sql<{ replayOf: string; n: string }>`
        select replay_of, count(*) as n from redrive.job
        where replay_of in ${sql.in(dlqs.map((d) => d.id))} group by replay_of`
      assert.strictEqual(replays.length, dlqs.length)
      assert.isTrue(replays.every((r) => Number(r.n) === 1))
    }), timeout)
})
