/**
 * Pause and resume of a scope holding 1,000,000 waiting jobs: 1,000,000 available jobs of one
 * (tenant, queue) among 100,000 of other tenants, then `redrive.pause` and the batches of
 * `redrive.move_controlled_jobs` (10,000 jobs each) timed one by one, then the same for resume.
 * A claim of another tenant runs between batches to show the scope's move does not block it.
 *
 *   cd bench && node --conditions=@redrive/source --import tsx pause-million.ts
 *
 * Uses its own database `rd_pausebench` on DATABASE_URL's server (default the local postgres).
 */
import pg from "pg"
import { fileURLToPath } from "node:url"
import { Database, MigrationRunner } from "@redrive/database"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"

const N = Number(process.env.BENCH_PAUSE_N ?? 1_000_000)
const server = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const admin = new pg.Client(server)
await admin.connect()
await admin.query("drop database if exists rd_pausebench with (force)")
await admin.query("create database rd_pausebench")
await admin.end()
const url = new URL(server)
url.pathname = "/rd_pausebench"
const rt = ManagedRuntime.make(
  Layer.merge(Database.layer({ url: Redacted.make(url.toString()), maxConnections: 2, administrator: true }), NodeContext.layer)
)
await rt.runPromise(MigrationRunner.up(fileURLToPath(new URL("../migrations", import.meta.url))))
await rt.dispose()

const db = new pg.Client(url.toString())
await db.connect()
await db.query(`insert into redrive.job (tenant_id, queue, type, payload)
                select 'big', 'bench', 'bench.job', '{}' from generate_series(1, ${N})`)
await db.query(`insert into redrive.job (tenant_id, queue, type, payload)
                select 'other-' || (g % 100), 'bench', 'bench.job', '{}' from generate_series(1, 100000) g`)
await db.query("vacuum analyze redrive.job")

const pct = (xs: Array<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!
const run = async (label: string, call: string) => {
  let t = performance.now()
  await db.query(call)
  const callMs = performance.now() - t
  const batches: Array<number> = []
  const claims: Array<number> = []
  let moved = 0
  for (;;) {
    t = performance.now()
    const r = await db.query<{ moved: number; done: boolean }>(
      "select moved, done from redrive.move_controlled_jobs('big', 'bench')"
    )
    batches.push(performance.now() - t)
    const row = r.rows[0]
    if (row === undefined) break
    moved += row.moved
    // Another tenant's claim-shaped read meanwhile: not blocked by the move.
    t = performance.now()
    await db.query(`select id from redrive.job where state = 'available' and queue = 'bench' and tenant_id = 'other-7'
                    order by priority, run_at, id limit 100 for update skip locked`)
    claims.push(performance.now() - t)
    if (row.done) break
  }
  const total = batches.reduce((a, b) => a + b, 0)
  console.log(
    `${label}: call ${callMs.toFixed(1)} ms; ${moved} jobs moved in ${batches.length} batches, ${(total / 1000).toFixed(1)} s; ` +
      `batch p50 ${pct(batches, 0.5).toFixed(0)} ms, max ${Math.max(...batches).toFixed(0)} ms; ` +
      `another tenant's claim meanwhile p50 ${pct(claims, 0.5).toFixed(1)} ms, max ${Math.max(...claims).toFixed(1)} ms`
  )
}
await run("pause ", "select redrive.pause('big', 'bench', 'bench', 'bench')")
await run("resume", "select redrive.resume('big', 'bench', 'bench')")
await db.end()
