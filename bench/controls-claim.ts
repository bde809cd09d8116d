/**
 * The claim with 1,000 paused scopes present vs none: 20,000 available jobs over 20 tenants of
 * one queue; 30 claims of 1,000 each (each in a transaction rolled back, so every claim sees the
 * same 20,000), the median of each series. Then 1,000 paused (tenant, queue) scopes are added,
 * each with 20 jobs waiting as `paused` (as a pause leaves them), and the claims are measured again.
 *
 *   cd bench && node --conditions=@redrive/source --import tsx controls-claim.ts
 *
 * Uses its own database `rd_ctlbench` on DATABASE_URL's server (default the local postgres).
 */
import { SqlClient } from "@effect/sql"
import { Database, MigrationRunner } from "@redrive/database"
import { NodeContext } from "@effect/platform-node"
import { Data, Effect, Layer, ManagedRuntime, Redacted } from "effect"
import pg from "pg"
import * as JobSql from "../packages/jobs/src/internal/JobSql.js"

const server = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const admin = new pg.Client(server)
await admin.connect()
await admin.query("drop database if exists rd_ctlbench with (force)")
await admin.query("create database rd_ctlbench")
await admin.end()
const url = new URL(server)
url.pathname = "/rd_ctlbench"
const rt = ManagedRuntime.make(
  Layer.merge(Database.layer({ url: Redacted.make(url.toString()), maxConnections: 2 }), NodeContext.layer)
)
await rt.runPromise(MigrationRunner.up())

class Rollback extends Data.TaggedError("Rollback")<{ readonly ms: number; readonly claimed: number }> {}

const claimOnce = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.withTransaction(Effect.gen(function*() {
    const t0 = performance.now()
    const rows = yield* JobSql.claimBatch(sql, {
      queues: ["bench"],
      types: ["bench.job"],
      tenants: null,
      limit: 1000,
      workerId: "bench",
      leaseMs: 30_000,
      after: null
    })
    return yield* new Rollback({ ms: performance.now() - t0, claimed: rows.length })
  })).pipe(Effect.catchTag("Rollback", (r) => Effect.succeed(r)))
})

const series = async (label: string) => {
  const times: Array<number> = []
  for (let i = 0; i < 33; i++) {
    const r = await rt.runPromise(claimOnce)
    if (r.claimed !== 1000) throw new Error(`claimed ${r.claimed}`)
    if (i >= 3) times.push(r.ms) // 3 warm-up claims
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]!
  console.log(`${label}: median ${median.toFixed(2)} ms (min ${times[0]!.toFixed(2)}, max ${times.at(-1)!.toFixed(2)}) over ${times.length} claims of 1,000`)
  return median
}

await rt.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.gen(function*() {
    yield* sql`insert into redrive.job (tenant_id, queue, type, payload)
               select 'tenant-' || (g % 20), 'bench', 'bench.job', '{}' from generate_series(1, 20000) g`
    yield* sql`vacuum analyze redrive.job`
  })))
const none = await series("no paused scopes   ")

await rt.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.gen(function*() {
    // 1,000 paused scopes (other tenants of the same queue, and other queues), through the functions.
    yield* sql`select redrive.pause('paused-' || g, case when g % 2 = 0 then 'bench' else 'other-' || g end,
                                    'bench', 'bench') from generate_series(1, 1000) g`
    yield* sql`insert into redrive.job (tenant_id, queue, type, payload, state)
               select 'paused-' || (g % 1000 + 1), case when (g % 1000 + 1) % 2 = 0 then 'bench' else 'other-' || (g % 1000 + 1) end,
                      'bench.job', '{}', 'paused' from generate_series(1, 20000) g`
    yield* sql`delete from redrive.control_move`
    yield* sql`vacuum analyze redrive.job`
    yield* sql`analyze redrive.control`
  })))
const paused = await series("1,000 paused scopes")
console.log(`ratio (paused / none): ${(paused / none).toFixed(3)}`)
await rt.dispose()
