/**
 * Three cluster runners started at the same moment on a database that has no cluster tables yet
 * (a deployment's replicas starting together): every one of them comes up and registers. The
 * tables are created by the first runner to take ClusterRunner's start lock; the others wait.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect } from "effect"
import { spawnRunner } from "./clusterFixtures.js"
import { processTestTimeout } from "./processFixtures.js"

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "150 seconds" })("cluster start", (it) => {
  it.scoped("three runners started at once on a fresh database all come up", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const info = yield* TestDatabase.TestDatabaseInfo
      yield* sql`create table handled_log (entity_id text not null, request_id text not null, pid int not null)`
      const runners = yield* Effect.all([1, 2, 3].map(() => spawnRunner(info.url)), { concurrency: "unbounded" })
      const registered = yield* sql<{ address: string }>`select address from cluster_runners`
      assert.strictEqual(registered.length, 3, runners.map((r) => r.output()).join("\n----\n"))
    }), processTestTimeout)
})
