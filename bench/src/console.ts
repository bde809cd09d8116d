/**
 * `pnpm bench:console`: the web console at BENCH_CONSOLE_DEPTH dead letters (default 1,000,000),
 * against the `serve` bin as a child process on a fresh database seeded with set-based SQL
 * (the error-group counters are filled by the same statement-level triggers a settle fires, the
 * per-minute failure_stat counters as the settles would have written them):
 *   - page load over HTTP: index.html plus the JS and CSS bundles it names, sequentially;
 *   - page load in Chromium (/usr/bin/chromium): navigation to the dead-letters page of a signed-in
 *     tab until its first row is on screen (HTML, bundle, /v1/session, the first DLQ page);
 *   - the API calls the pages make: a DLQ page (50 rows) walked by cursor (admin; tenant key under
 *     RLS; tenant + class; the reason text filter), error groups, stats, the failure timeline.
 * Each HTTP measurement is BENCH_CONSOLE_N sequential requests (default 200) after 20 warm-up ones;
 * p50/p99 in ms measured by the client. Needs packages/console/dist (built by `pnpm install`).
 */
import { SqlClient } from "@effect/sql"
import { ApiKeys } from "@redrive/server"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { migratedDatabase, startServer } from "./serveProcess.js"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const DEPTH = Number(process.env.BENCH_CONSOLE_DEPTH ?? 1_000_000)
const N = Number(process.env.BENCH_CONSOLE_N ?? 200)
const BROWSER_N = Number(process.env.BENCH_CONSOLE_BROWSER_N ?? 20)
const WARMUP = 20
const consoleDist = fileURLToPath(new URL("../../packages/console/dist/index.html", import.meta.url))

const pct = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const report = (name: string, times: ReadonlyArray<number>) =>
  console.log(`${name.padEnd(52)} p50 ${pct(times, 50).toFixed(2)} ms   p99 ${pct(times, 99).toFixed(2)} ms   (n=${times.length})`)

const seed = (depth: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const history = JSON.stringify([
      { attempt: 1, at: "2026-11-23T10:00:00.000Z", kind: "failed", errorClass: "external_api", tag: "HttpError", message: "503" }
    ])
    // 20 tenants, 5 queues, 7 types, 4 classes, 50 fingerprints; one dead letter every 0.1 s back from now.
    return sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
          error_reason, attempts, error_history, fingerprint, first_failed_at, dlq_at)
        select g, 't' || (g % 20), 'q' || (g % 5), 'type.' || (g % 7), jsonb_build_object('i', g), 5, 3,
          (array['external_api','validation','timeout','unknown'])[1 + g % 4],
          case when g % 1000 = 0 then 'SMTP 550 mailbox full for user' || g else 'upstream answered 503 for request ' || g end,
          3, ${history}::jsonb, 'fp' || (g % 50), now() - make_interval(secs => g), now() - make_interval(secs => g / 10.0)
        from generate_series(1, ${depth}) g`.pipe(
      // The per-minute counters the settles of those dead letters would have written.
      Effect.zipRight(sql`insert into redrive.failure_stat (tenant_id, queue, type, error_class, bucket, failures, dead_lettered)
        select tenant_id, queue, type, error_class, date_trunc('minute', dlq_at), count(*), count(*)
        from redrive.job_dlq group by 1, 2, 3, 4, 5`),
      Effect.zipRight(sql`vacuum analyze redrive.job_dlq`),
      Effect.zipRight(sql`vacuum analyze redrive.failure_stat`)
    )
  })

const main = async () => {
  if (!existsSync(consoleDist)) throw new Error(`no built console at ${consoleDist}: run npx -y pnpm@10.34.8 install`)
  const name = "redrive_bench_console"
  const { dbAdminUrl, runtime } = await migratedDatabase(adminUrl, name)
  const t0 = performance.now()
  await runtime.runPromise(seed(DEPTH))
  console.log(`seeded ${DEPTH} dead letters in ${((performance.now() - t0) / 1000).toFixed(1)} s (set-based insert + vacuum analyze)`)
  const adminKey = await runtime.runPromise(Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "bench-admin" })))
  const tenantKey = await runtime.runPromise(Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "bench-t3", tenant: "t3" })))
  await runtime.dispose()
  console.log(`${N} requests per HTTP measurement after ${WARMUP} warm-up; ${BROWSER_N} browser loads`)

  const { base, stop } = await startServer(dbAdminUrl, "bench-console-cursor-secret-0123")
  try {
    const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } })
    const timed = async (path: string, key?: string, count = N) => {
      const times: Array<number> = []
      for (let i = 0; i < WARMUP + count; i++) {
        const start = performance.now()
        const response = await fetch(`${base}${path}`, key === undefined ? {} : auth(key))
        await response.arrayBuffer()
        if (response.status !== 200) throw new Error(`${path}: ${response.status}`)
        if (i >= WARMUP) times.push(performance.now() - start)
      }
      return times
    }

    // Page load over HTTP: the HTML, then every script and stylesheet it names.
    const html = await (await fetch(`${base}/dead-letters`)).text()
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    let bytes = html.length
    for (const a of assets) bytes += (await (await fetch(`${base}${a}`)).arrayBuffer()).byteLength
    const loads: Array<number> = []
    for (let i = 0; i < WARMUP + N; i++) {
      const start = performance.now()
      await (await fetch(`${base}/dead-letters`)).text()
      for (const a of assets) await (await fetch(`${base}${a}`)).arrayBuffer()
      if (i >= WARMUP) loads.push(performance.now() - start)
    }
    report(`console HTML + ${assets.length} assets (${(bytes / 1024).toFixed(0)} KiB, uncompressed)`, loads)

    const walk = async (key: string, query: string, count: number) => {
      const times: Array<number> = []
      let cursor: string | null = null
      for (let i = 0; i < WARMUP + count; i++) {
        const url = `${base}/v1/dead-letters?limit=50${query}${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ""}`
        const start = performance.now()
        const response = await fetch(url, auth(key))
        const body = await response.json() as { items: Array<unknown>; nextCursor: string | null }
        if (response.status !== 200 || body.items.length === 0) throw new Error(`page failed: ${response.status}`)
        if (i >= WARMUP) times.push(performance.now() - start)
        cursor = body.nextCursor
      }
      return times
    }
    report("DLQ first page, 50 rows, admin", await timed("/v1/dead-letters?limit=50", adminKey.secret))
    report("DLQ pages walked by cursor, 50 rows, admin", await walk(adminKey.secret, "", N))
    report("DLQ pages walked, tenant key (RLS)", await walk(tenantKey.secret, "", N))
    report("DLQ pages walked, admin, tenant + class", await walk(adminKey.secret, "&tenantId=t3&errorClass=unknown", N))
    report("DLQ first page, reason text (1 in 1000 rows)", await timed("/v1/dead-letters?limit=50&reason=mailbox%20full", adminKey.secret, Math.min(N, 50)))
    report("error groups, 25 by last seen, admin", await timed("/v1/error-groups?limit=25", adminKey.secret))
    report("stats/queues (queue_health: overview), admin", await timed("/v1/stats/queues", adminKey.secret, Math.min(N, 50)))
    report("stats/queues, tenant key (RLS)", await timed("/v1/stats/queues", tenantKey.secret, Math.min(N, 50)))
    report("stats (queue_health + failure_stats), admin", await timed("/v1/stats", adminKey.secret, Math.min(N, 50)))
    report("failure timeline, 60 minutes, admin", await timed("/v1/stats/timeline?minutes=60", adminKey.secret))

    // In Chromium: a signed-in tab navigates to the dead letters until the first row is shown.
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
    })
    try {
      const page = await browser.newPage()
      await page.goto(base)
      await page.fill("input[name=key]", adminKey.secret)
      await page.click("button[type=submit]")
      await page.waitForSelector("[data-testid=who]")
      const browserLoads: Array<number> = []
      for (let i = 0; i < 3 + BROWSER_N; i++) {
        const start = performance.now()
        await page.goto(`${base}/dead-letters`)
        await page.locator("[data-testid=dead-letters] tbody tr[data-dlq-id]").first().waitFor()
        if (i >= 3) browserLoads.push(performance.now() - start)
      }
      report("Chromium: /dead-letters until the first row shows", browserLoads)
      const overview: Array<number> = []
      for (let i = 0; i < 3 + BROWSER_N; i++) {
        const start = performance.now()
        await page.goto(`${base}/`)
        await page.locator("[data-testid=queue-health] tbody tr td").first().waitFor()
        if (i >= 3) overview.push(performance.now() - start)
      }
      report("Chromium: / (overview) until queue health shows", overview)
    } finally {
      await browser.close()
    }
  } finally {
    await stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
