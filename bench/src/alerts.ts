/**
 * Job processing while alerts are delivered: N jobs (default 20,000; BENCH_ALERT_N) that all
 * dead-letter at their first attempt, drained by one worker whose process also leads maintenance
 * (the alert dispatcher runs there), with one global webhook channel that wants every dead letter
 * and coalesces nothing (digest window 0: one message per dead letter, the dispatcher's worst case),
 * with BENCH_ALERT_BACKLOG (20,000) deliveries already pending so the dispatcher sends throughout.
 * The jobs are enqueued due in an hour, the worker (and its dispatcher) started, and after 2 s
 * they are all made due at once: the clock runs from there to the last dead letter.
 * One run per endpoint, each on a fresh database:
 *   none      no channel (the baseline)
 *   silent    the channel and its backlog, but no dispatcher: the cost of writing the outbox alone
 *   working   a local endpoint answering 200
 *   failing   a local endpoint answering 500 (every try fails and is retried)
 *   hanging   a local endpoint that never answers (every try ends at the 2 s timeout)
 * Run: node --conditions=@redrive/source --import tsx bench/src/alerts.ts   (DATABASE_URL: an administrator)
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SqlClient } from "@effect/sql"
import { Database, MigrationRunner, Roles } from "@redrive/database"
import { Enqueue, JobDefinition, JobRegistry, Worker } from "@redrive/jobs"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Schema, Scope } from "effect"
import { freshDatabase as fresh } from "./freshDatabase.js"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const N = Number(process.env.BENCH_ALERT_N ?? 20_000)
/** Deliveries already waiting when the run starts, so the dispatcher is busy throughout it. */
const BACKLOG = Number(process.env.BENCH_ALERT_BACKLOG ?? 20_000)
type Mode = "none" | "silent" | "working" | "failing" | "hanging"
const isMode = (s: string): s is Mode =>
  s === "none" || s === "silent" || s === "working" || s === "failing" || s === "hanging"
/** BENCH_ALERT_MODES=hanging,working,… runs those, in that order. */
const modes: ReadonlyArray<Mode> = (process.env.BENCH_ALERT_MODES ?? "none,working,failing,hanging").split(",").filter(isMode)
const later = new Date(Date.now() + 3_600_000)

const freshDatabase = (name: string) => fresh(adminUrl, name)

const server = (mode: Mode) =>
  new Promise<{ url: string; requests: () => number; close: () => Promise<void> }>((resolve) => {
    let requests = 0
    const s = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        requests++
        if (mode === "hanging") return
        res.writeHead(mode === "failing" ? 500 : 200).end()
      })
    })
    s.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`,
        requests: () => requests,
        close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()) })
      }))
  })

const run = async (mode: Mode) => {
  const step = (what: string) => process.env.BENCH_DEBUG ? console.error(`${mode}: ${what}`) : undefined
  const url = await freshDatabase(`redrive_bench_alerts_${mode}`)
  step("migrating")
  await Effect.runPromise(
    MigrationRunner.up(fileURLToPath(new URL("../../migrations", import.meta.url))).pipe(
      Effect.provide(Database.layer({ url: Redacted.make(url), maxConnections: 3, administrator: true })),
      Effect.provide(NodeContext.layer),
      Effect.scoped
    )
  )
  const Def = JobDefinition.make({ name: "bench.alert", queue: "bench", payload: Schema.Unknown, retry: { maxAttempts: 1 } })
  const runtime = ManagedRuntime.make(
    JobRegistry.layer([Def]).pipe(
      Layer.provideMerge(Database.layer({ url: Roles.localRuntimeUrl(Redacted.make(url)), maxConnections: 6 }))
    )
  )
  const endpoint = await server(mode)
  step("enqueueing")
  const sql = (q: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, unknown>) =>
    runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (s) => Effect.orDie(q(s))))
  if (mode !== "none") {
    await sql((s) =>
      s`insert into redrive.alert_channel (name, kind, url, secret, digest_window_s)
        values ('bench', 'webhook', ${endpoint.url}, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 0)`)
    await sql((s) =>
      s`insert into redrive.alert_delivery (channel_id, tenant_id, event, payload)
        select 1, 'backlog', 'job.dead_lettered', jsonb_build_object('n', g) from generate_series(1, ${BACKLOG}) g`)
  }
  for (let i = 0; i < N; i += 1000) {
    await runtime.runPromise(Enqueue.many(Def, Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ i: i + k })), { runAt: later }))
  }
  step("working")
  const scope = await runtime.runPromise(Scope.make())
  await runtime.runPromise(
    Layer.buildWithScope(
      Worker.layer({
        handlers: [JobDefinition.handle(Def, () => Effect.fail(new Error("always fails")))],
        batchSize: 1000,
        concurrency: 2000,
        pollInterval: "500 millis",
        shutdownGrace: "5 seconds",
        maintenance: {
          electionInterval: "200 millis",
          alerts: mode === "silent" ? false : { dispatcher: { timeout: "2 seconds", backoff: "1 second" } }
        }
      }),
      scope
    )
  )
  await new Promise((r) => setTimeout(r, 2_000))
  const requestsBefore = endpoint.requests()
  const t = performance.now()
  await sql((s) => s`update redrive.job set run_at = now() where type = 'bench.alert'`)
  for (;;) {
    const [row] = await sql((s) => s`select (select count(*) from redrive.job_dlq)::int as n`)
    if (Number(row!["n"]) >= N) break
    await new Promise((r) => setTimeout(r, 5))
  }
  const seconds = (performance.now() - t) / 1000
  const requests = endpoint.requests() - requestsBefore
  const [alerts] = await sql((s) =>
    s`select count(*) filter (where state = 'delivered')::int as delivered, count(*)::int as total,
             (select count(*) from redrive.alert_attempt)::int as tries from redrive.alert_delivery`)
  await runtime.runPromise(Scope.close(scope, Exit.void))
  await runtime.dispose()
  await endpoint.close()
  return { mode, seconds, rate: N / seconds, requests, alerts }
}

// A warm-up run (not reported): the first run of a process pays for its JIT and its connections.
await run("none")
const results: Array<Awaited<ReturnType<typeof run>>> = []
for (const mode of modes) {
  const r = await run(mode)
  results.push(r)
  console.log(
    `${mode.padEnd(8)} ${N} dead-lettered in ${r.seconds.toFixed(2)} s = ${Math.round(r.rate)} jobs/s; ` +
      `endpoint requests during the run: ${r.requests}; outbox at the end: ${JSON.stringify(r.alerts)}`
  )
}
const base = results.find((r) => r.mode === "working")
if (base !== undefined) for (const r of results) console.log(`${r.mode.padEnd(8)} ${(r.rate / base.rate * 100).toFixed(1)} % of the working-webhook rate`)
