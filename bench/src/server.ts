/**
 * `pnpm bench:server`: latency over real HTTP against the `serve` bin as a child process, on a
 * fresh database with BENCH_SERVER_DEPTH dead letters (default 20,000):
 *   - /healthz and a 1-row page, to see where a page's time goes;
 *   - a DLQ page (50 rows) walked by keyset cursor, with an admin key and with a tenant key (RLS);
 *   - the same page over the RPC endpoint with the typed client;
 *   - a replay of one dead letter (POST /v1/dead-letters/:id/replay, through JobEntity).
 * Each is BENCH_SERVER_N sequential requests (default 500) after 50 warm-up requests; p50/p99 in ms
 * measured by the client (so they include HTTP, auth — a key lookup — and JSON on both sides).
 */
import { SqlClient } from "@effect/sql"
import { ApiKeys, RedriveClient } from "@redrive/server"
import { Effect } from "effect"
import { migratedDatabase, startServer } from "./serveProcess.js"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const DEPTH = Number(process.env.BENCH_SERVER_DEPTH ?? 20_000)
const N = Number(process.env.BENCH_SERVER_N ?? 500)
const WARMUP = 50

const pct = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const report = (name: string, times: ReadonlyArray<number>) =>
  console.log(`${name.padEnd(44)} p50 ${pct(times, 50).toFixed(2)} ms   p99 ${pct(times, 99).toFixed(2)} ms   (n=${times.length})`)

const main = async () => {
  const name = "redrive_bench_server"
  const { dbAdminUrl, runtime } = await migratedDatabase(adminUrl, name)
  const history = JSON.stringify([{ attempt: 1, at: "2026-11-23T10:00:00.000Z", kind: "failed", errorClass: "external_api", tag: "HttpError", message: "503" }])
  await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
          error_reason, attempts, error_history, fingerprint, first_failed_at, dlq_at)
        select g, 't' || (g % 20), 'q' || (g % 5), 'type.' || (g % 7), jsonb_build_object('i', g), 5, 3,
          (array['external_api','validation','timeout','unknown'])[1 + g % 4], '503', 3, ${history}::jsonb,
          'fp' || (g % 50), now() - make_interval(secs => g), now() - make_interval(secs => g / 10.0)
        from generate_series(1, ${DEPTH}) g`.pipe(Effect.zipRight(sql`analyze redrive.job_dlq`))))
  const adminKey = await runtime.runPromise(Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "bench-admin" })))
  const tenantKey = await runtime.runPromise(Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "bench-t3", tenant: "t3" })))
  await runtime.dispose()
  console.log(`dead letters: ${DEPTH} (20 tenants); ${N} requests per measurement after ${WARMUP} warm-up`)

  const { base, stop } = await startServer(dbAdminUrl, "bench-server-cursor-secret-0123")
  try {

    const pageWalk = async (key: string, query: string, count: number) => {
      const times: Array<number> = []
      let cursor: string | null = null
      for (let i = 0; i < count; i++) {
        const url = `${base}/v1/dead-letters?limit=50${query}${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ""}`
        const t0 = performance.now()
        const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } })
        const body = await response.json() as { items: Array<unknown>; nextCursor: string | null }
        times.push(performance.now() - t0)
        if (response.status !== 200 || body.items.length === 0) throw new Error(`page failed: ${response.status}`)
        cursor = body.nextCursor
      }
      return times
    }
    const plain = async (path: string, key?: string) => {
      const times: Array<number> = []
      for (let i = 0; i < WARMUP + N; i++) {
        const t0 = performance.now()
        const response = await fetch(`${base}${path}`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } })
        await response.text()
        if (i >= WARMUP) times.push(performance.now() - t0)
      }
      return times
    }
    // Where the time of a page goes: HTTP alone, then auth + a 1-row page, then 50 rows.
    report("GET /healthz (no auth, no database)", await plain("/healthz"))
    report("GET /v1/dead-letters?limit=1 (admin)", await plain("/v1/dead-letters?limit=1", adminKey.secret))
    await pageWalk(adminKey.secret, "", WARMUP)
    report("HTTP DLQ page, 50 rows, admin key", await pageWalk(adminKey.secret, "", N))
    report("HTTP DLQ page, 50 rows, tenant key (RLS)", await pageWalk(tenantKey.secret, "", Math.min(N, DEPTH / 20 / 50)))
    report("HTTP DLQ page, 50 rows, admin, tenant+class", await pageWalk(adminKey.secret, "&tenantId=t3&errorClass=unknown", Math.min(N, DEPTH / 20 / 50)))

    const rpcTimes = await Effect.runPromise(Effect.gen(function*() {
      const client = yield* RedriveClient
      const times: Array<number> = []
      let cursor: string | undefined
      for (let i = 0; i < WARMUP + N; i++) {
        const t0 = performance.now()
        const page = yield* client.dlq.list({ limit: 50, ...(cursor !== undefined ? { cursor } : {}) })
        if (i >= WARMUP) times.push(performance.now() - t0)
        cursor = page.nextCursor ?? undefined
      }
      return times
    }).pipe(Effect.scoped, Effect.provide(RedriveClient.layer({ url: base, key: adminKey.secret }))))
    report("RPC dlq.list, 50 rows, admin key", rpcTimes)

    const replayTimes: Array<number> = []
    for (let i = 0; i < WARMUP + N; i++) {
      const id = DEPTH - i
      const t0 = performance.now()
      const response = await fetch(`${base}/v1/dead-letters/${id}/replay`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey.secret}`, "content-type": "application/json" },
        body: JSON.stringify({ requestId: `bench-${id}` })
      })
      await response.text()
      if (response.status !== 200) throw new Error(`replay failed: ${response.status}`)
      if (i >= WARMUP) replayTimes.push(performance.now() - t0)
    }
    report("HTTP replay of one dead letter (JobEntity)", replayTimes)
  } finally {
    await stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
