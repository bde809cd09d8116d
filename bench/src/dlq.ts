/**
 * `pnpm bench:dlq`: dead-letter inspection and bulk replay at BENCH_DLQ_DEPTH dead letters
 * (default 1,000,000), in one run:
 *   - a 50-row DLQ page walked by cursor, through the library (JobDlqRepo as the runtime role) and
 *     through the HTTP API (`redrive serve` as a child process), unfiltered and with each filter
 *     (tenant, queue, type, class, fingerprint, time range, reason text), as an admin and as
 *     tenant t3 (row-level security: `Tenant.withTenant`, a tenant API key);
 *   - error groups (ErrorGroups.list, 50 by last seen and by count), admin and tenant;
 *   - bulk replay of BENCH_DLQ_BULK (default 100,000) dead letters by filter (queue + time range,
 *     one in five of the rows it spans): time until all are queued (Replay.runBulk returns) and
 *     until a worker in this process has run every one of them.
 * p50/p99 over BENCH_DLQ_N pages (default 200) after 20 warm-up ones, measured by the caller.
 *
 * The database (BENCH_DLQ_DB, default redrive_dlq_bench) is seeded once, set-based, and kept
 * with BENCH_DLQ_KEEP=1 so a later run reuses it (migrated up, replays of the last run undone);
 * otherwise it is dropped at the end. The whole run is bounded by BENCH_DLQ_TIMEOUT_S (default
 * 1200 s); DATABASE_URL is an administrator's URL.
 */
import { NodeContext } from "@effect/platform-node"
import { Database, JobDlqRepo, MigrationRunner, Roles, Tenant } from "@redrive/database"
import { ErrorGroups, JobDefinition, JobRegistry, Replay, Worker } from "@redrive/jobs"
import { ApiKeys } from "@redrive/server"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Schema, Scope } from "effect"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { startServer } from "./serveProcess.js"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const n = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const DEPTH = n("BENCH_DLQ_DEPTH", 1_000_000)
const N = n("BENCH_DLQ_N", 200)
const BULK = Math.min(n("BENCH_DLQ_BULK", 100_000), Math.floor(DEPTH / 5))
const TIMEOUT_S = n("BENCH_DLQ_TIMEOUT_S", 1200)
const KEEP = process.env.BENCH_DLQ_KEEP === "1"
const DB = process.env.BENCH_DLQ_DB ?? "redrive_dlq_bench"
/** Dead letters per bulk replay statement; unset: Replay's default. */
const REPLAY_BATCH = process.env.BENCH_DLQ_REPLAY_BATCH === undefined ? undefined : Number(process.env.BENCH_DLQ_REPLAY_BATCH)
const WARMUP = 20
const cursorSecret = "bench-dlq-cursor-secret-0123456789"
const migrations = fileURLToPath(new URL("../../migrations", import.meta.url))

const cleanups: Array<() => Promise<void>> = []
const timer = setTimeout(() => {
  console.error(`bench:dlq: over ${TIMEOUT_S} s, stopping`)
  void Promise.allSettled(cleanups.map((c) => c())).then(() => process.exit(2))
}, TIMEOUT_S * 1000)
timer.unref()

const pct = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const report = (name: string, times: ReadonlyArray<number>) =>
  console.log(`${name.padEnd(50)} p50 ${pct(times, 50).toFixed(2).padStart(7)} ms   p99 ${pct(times, 99).toFixed(2).padStart(7)} ms`)

const dbUrl = (() => {
  const u = new URL(adminUrl)
  u.pathname = `/${DB}`
  return u.toString()
})()

const admin = async <A>(f: (c: pg.Client) => Promise<A>, url = adminUrl) => {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}

/** Tenants t0..t19, queues q0..q4, types type.0..6, 4 classes, 50 fingerprints; one dead letter every 0.1 s back from now. */
const seedSql = `insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
      error_reason, attempts, error_history, fingerprint, first_failed_at, dlq_at)
    select g, 't' || (g % 20), 'q' || (g % 5), 'type.' || (g % 7), jsonb_build_object('i', g), 5, 3,
      (array['external_api','validation','timeout','unknown'])[1 + g % 4],
      case when g % 1000 = 3 then 'SMTP 550 mailbox full for user ' || g else 'upstream answered 503 for request ' || g end,
      3, '[{"attempt":1,"at":"2026-11-23T10:00:00.000Z","kind":"failed","errorClass":"external_api","tag":"HttpError","message":"503"}]'::jsonb,
      'fp' || (g % 50), now() - make_interval(secs => g), now() - make_interval(secs => g / 10.0)
    from generate_series(1, $1::int) g`

/** The kept database when it holds DEPTH dead letters, else a new seeded one; migrated up either way, last run's replays undone. */
const prepare = async () => {
  const exists = await admin(async (c) => (await c.query("select 1 from pg_database where datname = $1", [DB])).rowCount === 1)
  let reuse = false
  if (exists) {
    reuse = await admin(async (c) => {
      const r = await c.query("select to_regclass('redrive.job_dlq') is not null as ok")
      if (r.rows[0]?.ok !== true) return false
      const count = await c.query("select count(*)::int as n from redrive.job_dlq")
      return count.rows[0]?.n === DEPTH
    }, dbUrl)
  }
  if (!reuse) {
    await admin(async (c) => {
      await c.query(`drop database if exists ${DB} with (force)`)
      await c.query(`create database ${DB}`)
    })
  }
  await Effect.runPromise(
    MigrationRunner.up(migrations).pipe(
      Effect.provide(Database.layer({ url: Redacted.make(dbUrl), maxConnections: 2, administrator: true })),
      Effect.provide(NodeContext.layer),
      Effect.scoped
    )
  )
  const t0 = performance.now()
  await admin(async (c) => {
    if (!reuse) {
      await c.query(seedSql, [DEPTH])
      await c.query(`insert into redrive.failure_stat (tenant_id, queue, type, error_class, bucket, failures, dead_lettered)
        select tenant_id, queue, type, error_class, date_trunc('minute', dlq_at), count(*), count(*)
        from redrive.job_dlq group by 1, 2, 3, 4, 5`)
    } else {
      // Undo the previous run's bulk replay: its dead letters pending again, its jobs and request gone.
      await c.query("update redrive.job_dlq set replayed_at = null, replayed_by = null, replay_job_id = null where replayed_at is not null")
      await c.query("delete from redrive.job")
      await c.query("delete from redrive.replay_request")
      await c.query("delete from redrive.api_key")
    }
    await c.query("vacuum analyze redrive.job_dlq")
    await c.query("vacuum analyze redrive.job")
    await c.query("analyze redrive.dlq_group")
    await c.query("analyze redrive.dlq_group_tenant")
  }, dbUrl)
  console.log(reuse
    ? `reused ${DB} (${DEPTH} dead letters): reset in ${((performance.now() - t0) / 1000).toFixed(1)} s`
    : `seeded ${DEPTH} dead letters into ${DB} in ${((performance.now() - t0) / 1000).toFixed(1)} s (set-based insert, group triggers on, vacuum analyze)`)
}

/** Every type of the seed in queue q1, the queue the bulk replay covers. */
const definitions = Array.from({ length: 7 }, (_, i) =>
  JobDefinition.make({ name: `type.${i}`, queue: "q1", payload: Schema.Unknown, retry: { maxAttempts: 3, base: 0, max: 0 } }))

const decodeAt = Schema.decodeUnknownSync(Schema.Struct({ dlq_at: Schema.DateFromSelf }))
const decodePage = Schema.decodeUnknownSync(Schema.Struct({ items: Schema.Array(Schema.Unknown), nextCursor: Schema.NullOr(Schema.String) }))
const decodeGroups = Schema.decodeUnknownSync(Schema.Struct({ groups: Schema.Array(Schema.Unknown) }))

type Filter = Record<string, string>
interface Case {
  readonly name: string
  readonly filter: Filter
  readonly reason?: string
}

const main = async () => {
  console.log(`redrive bench:dlq — node ${process.version}, depth ${DEPTH}, ${N} pages per figure after ${WARMUP} warm-up`)
  await prepare()
  if (!KEEP) cleanups.push(() => admin(async (c) => void await c.query(`drop database if exists ${DB} with (force)`)))

  // Time-range bounds from the data: the dead letters of seed rows 400,001..600,000.
  const [to, from, bulkFrom] = await admin(async (c) => {
    const at = async (g: number) =>
      decodeAt((await c.query("select dlq_at from redrive.job_dlq where job_id = $1", [g])).rows[0]).dlq_at
    return [await at(Math.floor(DEPTH * 0.4)), await at(Math.floor(DEPTH * 0.6)), await at(BULK * 5)]
  }, dbUrl)
  // Filters tenant t3 can see rows of: g % 20 = 3 ⇒ queue q3, class `unknown`, fingerprints fp3/fp23/fp43.
  const cases: ReadonlyArray<Case> = [
    { name: "unfiltered", filter: {} },
    { name: "tenant t3", filter: { tenantId: "t3" } },
    { name: "queue q3", filter: { queue: "q3" } },
    { name: "type type.4", filter: { type: "type.4" } },
    { name: "class unknown", filter: { errorClass: "unknown" } },
    { name: "fingerprint fp23", filter: { fingerprint: "fp23" } },
    { name: "time range (20% of rows)", filter: { dlqFrom: from.toISOString(), dlqTo: to.toISOString() } },
    { name: "reason text (1 in 1000 rows)", filter: {}, reason: "mailbox full" }
  ]

  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      JobDlqRepo.layerWithSecret(Redacted.make(cursorSecret)),
      ErrorGroups.layer,
      Replay.layer(REPLAY_BATCH === undefined ? {} : { batchSize: REPLAY_BATCH }),
      ApiKeys.layer,
      NodeContext.layer
    ).pipe(
      Layer.provideMerge(JobRegistry.layer(definitions)),
      Layer.provideMerge(Database.layer({ url: Roles.localRuntimeUrl(Redacted.make(dbUrl)), maxConnections: 8 }))
    )
  )
  cleanups.push(() => runtime.dispose())
  const run = <A, E>(effect: Effect.Effect<A, E, ManagedRuntime.ManagedRuntime.Context<typeof runtime>>) =>
    runtime.runPromise(effect)

  /** N pages walked by cursor (back to the first page at the end), after WARMUP. */
  const walk = async (page: (cursor: string | null) => Promise<{ items: number; next: string | null }>) => {
    const times: Array<number> = []
    let cursor: string | null = null
    for (let i = 0; i < WARMUP + N; i++) {
      const t0 = performance.now()
      const result = await page(cursor)
      if (i >= WARMUP) times.push(performance.now() - t0)
      if (result.items === 0) throw new Error("bench:dlq: an empty page")
      cursor = result.next
    }
    return times
  }

  // Library: JobDlqRepo.listPending as the runtime role (admin) and inside Tenant.withTenant("t3").
  console.log("\nDLQ page of 50, library (JobDlqRepo.listPending)")
  for (const asTenant of [false, true]) {
    for (const c of cases) {
      const times = await walk(async (cursor) => {
        const page = await run(Effect.flatMap(JobDlqRepo.JobDlqRepo, (repo) => {
          const list = repo.listPending(c.filter, cursor === null ? { limit: 50 } : { limit: 50, cursor }, { reasonContains: c.reason })
          return asTenant ? Tenant.withTenant("t3", list) : list
        }))
        return { items: page.items.length, next: page.nextCursor }
      })
      report(`  lib  ${asTenant ? "tenant" : "admin "}  ${c.name}`, times)
    }
  }

  console.log("\nError groups (ErrorGroups.list, 50)")
  for (const asTenant of [false, true]) {
    for (const orderBy of ["lastSeen", "count"] as const) {
      const list = Effect.flatMap(ErrorGroups.ErrorGroups, (g) => g.list({ limit: 50, orderBy }))
      const times = await walk(async () => {
        const page = await run(asTenant ? Tenant.withTenant("t3", list) : list)
        return { items: page.groups.length, next: null }
      })
      report(`  lib  ${asTenant ? "tenant" : "admin "}  by ${orderBy}`, times)
    }
  }

  // HTTP: GET /v1/dead-letters with an admin key and a key of tenant t3.
  const adminKey = await run(Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "bench-dlq-admin" })))
  const tenantKey = await run(Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "bench-dlq-t3", tenant: "t3" })))
  const server = await startServer(Redacted.make(dbUrl), cursorSecret)
  cleanups.unshift(server.stop)
  try {
    console.log("\nDLQ page of 50, HTTP (GET /v1/dead-letters)")
    for (const [who, key] of [["admin ", adminKey.secret], ["tenant", tenantKey.secret]] as const) {
      for (const c of cases) {
        const query = new URLSearchParams({ limit: "50", ...c.filter, ...(c.reason !== undefined ? { reason: c.reason } : {}) })
        const times = await walk(async (cursor) => {
          const url = `${server.base}/v1/dead-letters?${query}${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ""}`
          const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } })
          if (response.status !== 200) throw new Error(`bench:dlq: ${url}: ${response.status} ${await response.text()}`)
          const body = decodePage(await response.json())
          return { items: body.items.length, next: body.nextCursor }
        })
        report(`  http ${who}  ${c.name}`, times)
      }
    }
    console.log("\nError groups, HTTP (GET /v1/error-groups?limit=50)")
    for (const [who, key] of [["admin ", adminKey.secret], ["tenant", tenantKey.secret]] as const) {
      const times = await walk(async () => {
        const response = await fetch(`${server.base}/v1/error-groups?limit=50`, { headers: { authorization: `Bearer ${key}` } })
        if (response.status !== 200) throw new Error(`bench:dlq: error groups: ${response.status}`)
        const body = decodeGroups(await response.json())
        return { items: body.groups.length, next: null }
      })
      report(`  http ${who}  by lastSeen`, times)
    }
  } finally {
    await server.stop()
    cleanups.splice(cleanups.indexOf(server.stop), 1)
  }

  // Bulk replay by filter, a worker in this process running the replayed jobs.
  const filter = { queue: "q1", dlqFrom: bulkFrom.toISOString() }
  let handled = 0
  const scope = await runtime.runPromise(Scope.make())
  await runtime.runPromise(Layer.buildWithScope(
    Worker.layer({
      handlers: definitions.map((d) => JobDefinition.handle(d, () => Effect.sync(() => void handled++))),
      batchSize: 1000,
      concurrency: 2000,
      pollInterval: "500 millis",
      shutdownGrace: "5 seconds"
    }),
    scope
  ))
  const t0 = performance.now()
  const replayed = await run(Effect.gen(function*() {
    const replay = yield* Replay.Replay
    const request = yield* replay.createBulk({ filter, scopeTenant: "*", requestedBy: "bench-dlq" })
    yield* replay.runBulk(request.id, "bench-dlq")
    return (yield* replay.get(request.id)).replayed
  }))
  const queuedS = (performance.now() - t0) / 1000
  const deadline = performance.now() + 300_000
  while (handled < replayed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  const ranS = (performance.now() - t0) / 1000
  await runtime.runPromise(Scope.close(scope, Exit.void))
  console.log(`\nBulk replay by filter (queue q1 + dlqFrom; ${BULK} expected of ${DEPTH}), batch ${REPLAY_BATCH ?? "default"}`)
  console.log(`  ${replayed} dead letters queued in ${queuedS.toFixed(2)} s; all ${handled} re-ran ${ranS.toFixed(2)} s after the request`)
  if (replayed !== BULK || handled < replayed) throw new Error(`bench:dlq: replayed ${replayed}, ran ${handled}, expected ${BULK}`)
}

main().then(
  async () => {
    for (const c of cleanups) await c()
    process.exit(0)
  },
  async (e) => {
    console.error(e)
    for (const c of cleanups) await c().catch(() => {})
    process.exit(1)
  }
)
