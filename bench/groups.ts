/**
 * Error groups at 1,000,000 dead letters: seeds them set-based (generate_series, in chunks so the
 * group triggers run as they would over many settles), a few thousand groups over a few hundred
 * tenants (each group in about ten tenants), then times the group queries of ErrorGroups (p50/p99 over repeated calls) and the cost
 * the group triggers add to a dead-letter insert statement.
 *
 *   node --conditions=@redrive/source --import tsx bench/groups.ts
 *   (DATABASE_URL: an administrator's URL; BENCH_GROUPS_N, default 1000000)
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Database, MigrationRunner, Roles } from "@redrive/database"
import { ErrorGroups } from "@redrive/jobs"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { freshDatabase } from "./src/freshDatabase.js"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const N = Number(process.env.BENCH_GROUPS_N ?? 1_000_000)
const TYPES = 30
const CLASSES = 5
const FINGERPRINTS = 20 // per (type, class): 30 × 5 × 20 = 3000 groups
const TENANTS = 300
const CHUNK = 50_000

const pct = (xs: Array<number>, p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!

const name = "redrive_bench_groups"
const url = Redacted.make(await freshDatabase(adminUrl, name))

await Effect.runPromise(
  MigrationRunner.up(fileURLToPath(new URL("../migrations", import.meta.url))).pipe(
    Effect.provide(Database.layer({ url, maxConnections: 2, administrator: true })),
    Effect.provide(NodeContext.layer),
    Effect.scoped
  )
)
// As a service runs: the runtime role, under row-level security.
const runtime = ManagedRuntime.make(
  ErrorGroups.layer.pipe(Layer.provideMerge(Database.layer({ url: Roles.localRuntimeUrl(url), maxConnections: 4 })))
)
const sql = await runtime.runPromise(SqlClient.SqlClient)
const run = <A>(effect: Effect.Effect<A, unknown, never>) => runtime.runPromise(effect)

const insertDeadLetters = (from: number, count: number) =>
  sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
        error_reason, attempts, error_history, fingerprint, first_failed_at, dlq_at)
      select g, 't' || ((g % 3000 + (g / 100000)::int * 37) % ${TENANTS}), 'q' || (g % 5), 'type.' || (g % ${TYPES}), jsonb_build_object('i', g), 5, 3,
        (array['external_api','validation','timeout','unknown','rate_limited'])[1 + (g / ${TYPES})::int % ${CLASSES}],
        'HTTP 503 from upstream ' || (g % 97), 3,
        jsonb_build_array(jsonb_build_object('attempt', 3, 'at', '2026-11-30T10:00:00.000Z', 'kind', 'failed',
          'errorClass', 'external_api', 'tag', 'HttpError', 'message', '503', 'stack', 'Error: 503\n    at call (api.ts:10:5)')),
        'fp-' || ((g / ${TYPES * CLASSES})::int % ${FINGERPRINTS}), now() - interval '1 hour',
        now() - (g % 86400) * interval '1 second'
      from generate_series(${from}::bigint, ${from + count - 1}::bigint) g`

let t = performance.now()
for (let from = 1; from <= N; from += CHUNK) await run(insertDeadLetters(from, Math.min(CHUNK, N - from + 1)))
const seedS = (performance.now() - t) / 1000
await run(sql`analyze redrive.job_dlq`)
await run(sql`analyze redrive.dlq_group`)
await run(sql`analyze redrive.dlq_group_tenant`)
const [stats] = await run(sql<{ groups: string; tenantRows: string; dead: string }>`
  select (select count(*) from redrive.dlq_group) as groups, (select count(*) from redrive.dlq_group_tenant) as tenant_rows,
         (select sum(count) from redrive.dlq_group) as dead`)
console.log(
  `seeded ${N} dead letters in ${seedS.toFixed(1)} s (${CHUNK}/statement, group triggers on): ` +
    `${stats!.groups} groups, ${stats!.tenantRows} (tenant, group) rows, counted ${stats!.dead}`
)

const time = async (label: string, effect: Effect.Effect<unknown, unknown, never>, times = 200) => {
  for (let i = 0; i < 10; i++) await run(effect)
  const xs: Array<number> = []
  for (let i = 0; i < times; i++) {
    const s = performance.now()
    await run(effect)
    xs.push(performance.now() - s)
  }
  console.log(`${label.padEnd(52)} p50 ${pct(xs, 50).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms`)
}

await run(Effect.gen(function*() {
  const groups = yield* ErrorGroups.ErrorGroups
  const page = yield* groups.list({ limit: 50 })
  const second = page.nextCursor
  yield* Effect.promise(async () => {
    await time("list() across tenants, by last seen, 50", groups.list({ limit: 50 }))
    await time("list() across tenants, by count, 50", groups.list({ limit: 50, orderBy: "count" }))
    await time("list() second page (cursor)", groups.list({ limit: 50, cursor: second! }))
    await time("list({ type }) across tenants", groups.list({ type: "type.7", limit: 50 }))
    await time("list({ tenantId }) by last seen, 50", groups.list({ tenantId: "t42", limit: 50 }))
    await time("list({ tenantId, errorClass }) by count", groups.list({ tenantId: "t42", errorClass: "timeout", orderBy: "count" }))
    await time("get(key) with sample", groups.get({ type: "type.7", errorClass: "validation", fingerprint: "fp-3" }))
  })
}))

// What the triggers add to a dead-letter insert of 500 rows (a large settle batch) and of 1 row.
const insertCost = async (label: string, rows: number, rounds: number) => {
  const xs: Array<number> = []
  let from = 10_000_000 + Math.floor(Math.random() * 1_000_000) * 1000
  for (let i = 0; i < rounds; i++) {
    const s = performance.now()
    await run(insertDeadLetters(from, rows))
    xs.push(performance.now() - s)
    from += rows
  }
  console.log(`${label.padEnd(52)} p50 ${pct(xs, 50).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms`)
}
const ownerRun = async (statement: string) => {
  const c = new pg.Client({ connectionString: u.toString() })
  await c.connect()
  await c.query(statement)
  await c.end()
}
await insertCost("insert 500 dead letters, triggers on", 500, 40)
await insertCost("insert 1 dead letter, triggers on", 1, 200)
await ownerRun("alter table redrive.job_dlq disable trigger user")
await insertCost("insert 500 dead letters, triggers off", 500, 40)
await insertCost("insert 1 dead letter, triggers off", 1, 200)
await ownerRun("alter table redrive.job_dlq enable trigger user")

await runtime.dispose()
