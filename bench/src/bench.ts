/**
 * `pnpm bench`: Redrive's own figures on this machine, each phase on a fresh database.
 *   A throughput   N jobs bulk-enqueued, then drained by one worker (jobs/s, worker RSS)
 *   B latency      single enqueues every 10 ms → handler start (p50/p99)
 *   C failure      N jobs × 3 attempts, zero backoff, full history, into the DLQ
 *   D replay       bulk replay of C's dead letters until all re-ran
 *   P DLQ page     one 50-row keyset page at a DLQ depth of BENCH_DLQ_DEPTH (default 200k), p99
 *   R bulk replay  the whole DLQ of P replayed by one replay request (BENCH_BULK=0 skips it)
 *   peers          the peers harness (graphile-worker, pg-boss, raw-pg reference) run once with
 *                  bench/peers-adapter.mjs, and issue 16's ratio table from that run (peers.ts;
 *                  BENCH_PEERS_DIR, BENCH_PEERS_ROUNDS; skipped with a message when there is no harness)
 * BENCH_ONLY picks phases (default A,B,C,P,peers).
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Database, JobDlqRepo } from "@redrive/database"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { freshDatabase as fresh } from "./freshDatabase.js"
import { runPeers } from "./peers.js"
import { open, type Settings } from "./redrive-peers.js"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const n = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const N_A = n("BENCH_N_A", 20_000)
const N_B = n("BENCH_N_B", 300)
const N_C = n("BENCH_N_C", 2_000)
const DEPTH = n("BENCH_DLQ_DEPTH", 200_000)
const BULK = n("BENCH_BULK", 1)
const settings: Settings = { batchSize: 1000, concurrency: 2000, pollMs: 500, replayBatch: 2000 }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (xs: Array<number>, p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!
const rows: Array<[string, string]> = []
const report = (name: string, value: string) => {
  rows.push([name, value])
  console.log(`${name.padEnd(34)} ${value}`)
}

const freshDatabase = (name: string) => fresh(adminUrl, name)

const until = async (check: () => Promise<boolean>, timeoutMs = 120_000) => {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error("bench: timed out")
    await sleep(5)
  }
}

/** BENCH_PROFILE=<file>: a CPU profile of the processing window only (not the start-up or the enqueue). */
const profiler = async (file: string | undefined) => {
  if (file === undefined) return { stop: async () => {} }
  const { Session } = await import("node:inspector/promises")
  const { writeFile } = await import("node:fs/promises")
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  return {
    stop: async () => {
      const { profile } = await session.post("Profiler.stop")
      await writeFile(file, JSON.stringify(profile))
      session.disconnect()
    }
  }
}

const throughput = async () => {
  const url = await freshDatabase("redrive_bench_a")
  const producer = await open({ databaseUrl: url, settings, maxAttempts: 1, role: "producer" })
  const payloads = Array.from({ length: N_A }, (_, i) => ({ i }))
  let t = performance.now()
  for (let i = 0; i < N_A; i += 1000) await producer.enqueueBatch(payloads.slice(i, i + 1000))
  report("A enqueue (bulk, 1000/call)", `${Math.round(N_A / ((performance.now() - t) / 1000))} jobs/s`)
  await producer.stop()
  const worker = await open({ databaseUrl: url, settings, maxAttempts: 1, role: "worker" })
  let handled = 0
  const rss0 = process.memoryUsage().rss
  let peak = rss0
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25)
  t = performance.now()
  const cpu0 = process.cpuUsage()
  const profile = await profiler(process.env.BENCH_PROFILE)
  await worker.startWorker(() => void handled++)
  await until(async () => handled >= N_A && (await worker.countTerminal()).pending === 0)
  const s = (performance.now() - t) / 1000
  const cpu = process.cpuUsage(cpu0)
  await profile.stop()
  clearInterval(sampler)
  report("A process", `${Math.round(N_A / s)} jobs/s (${N_A} in ${s.toFixed(2)} s)`)
  // Node CPU per job is steadier than jobs/s on a shared machine: compare variants with it.
  report("A process Node CPU", `${((cpu.user + cpu.system) / N_A).toFixed(1)} µs/job (user ${(cpu.user / N_A).toFixed(1)}, system ${(cpu.system / N_A).toFixed(1)})`)
  report("A process RSS (this process)", `${Math.round(peak / 1048576)} MB peak`)
  await worker.stop()
}

const latency = async () => {
  const url = await freshDatabase("redrive_bench_b")
  const inst = await open({ databaseUrl: url, settings: { ...settings, batchSize: 500 }, maxAttempts: 1, role: "both" })
  const lat: Array<number> = []
  await inst.startWorker((p) => {
    const t0 = (p as { t0?: number }).t0
    if (t0 !== undefined) lat.push(performance.now() - t0)
  })
  await sleep(300)
  for (let i = 0; i < 20; i++) await inst.enqueueOne({ warm: i })
  await sleep(300)
  const pending: Array<Promise<void>> = []
  const start = performance.now()
  for (let i = 0; i < N_B; i++) {
    const wait = start + i * 10 - performance.now()
    if (wait > 0) await sleep(wait)
    pending.push(inst.enqueueOne({ t0: performance.now(), i }))
  }
  await Promise.all(pending)
  await until(async () => lat.length >= N_B)
  report("B latency enqueue→handler", `p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`)
  await inst.stop()
}

const failureAndReplay = async () => {
  const url = await freshDatabase("redrive_bench_c")
  const inst = await open({ databaseUrl: url, settings: { ...settings, batchSize: 500 }, maxAttempts: 3, role: "both" })
  const payloads = Array.from({ length: N_C }, (_, i) => ({ i }))
  for (let i = 0; i < N_C; i += 1000) await inst.enqueueBatch(payloads.slice(i, i + 1000))
  let failing = true
  let reran = 0
  let t = performance.now()
  await inst.startWorker(() => {
    if (failing) throw new Error("bench: always fails")
    reran++
  })
  await until(async () => (await inst.countTerminal()).deadLettered === N_C)
  report("C failure path (3 attempts → DLQ)", `${((performance.now() - t) / 1000).toFixed(2)} s for ${N_C} jobs`)
  failing = false
  t = performance.now()
  await inst.replayFailed()
  await until(async () => reran >= N_C && (await inst.countTerminal()).pending === 0)
  report("D replay until all re-ran", `${((performance.now() - t) / 1000).toFixed(2)} s for ${N_C} jobs`)
  await inst.stop()
}

const deadLetterDepth = async () => {
  const url = await freshDatabase("redrive_bench_p")
  const runtime = ManagedRuntime.make(
    JobDlqRepo.layerInsecureDefault.pipe(
      Layer.provideMerge(Database.layer({ url: Redacted.make(url), maxConnections: 4, administrator: true })),
      Layer.merge(NodeContext.layer)
    )
  )
  const inst = await open({ databaseUrl: url, settings, maxAttempts: 1, role: "both" })
  await inst.stop()
  const history = JSON.stringify([{ attempt: 1, at: "2026-11-23T10:00:00.000Z", kind: "failed", errorClass: "external_api", tag: "HttpError", message: "503" }])
  let t = performance.now()
  await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
          error_reason, attempts, error_history, fingerprint, first_failed_at, dlq_at)
        select g, 't' || (g % 20), 'q' || (g % 5), 'type.' || (g % 7), jsonb_build_object('i', g), 5, 3,
          (array['external_api','validation','timeout','unknown'])[1 + g % 4], '503', 3, ${history}::jsonb,
          'fp' || (g % 50), now() - make_interval(secs => g), now() - make_interval(secs => g / 10.0)
        from generate_series(1, ${DEPTH}) g`.pipe(Effect.zipRight(sql`analyze redrive.job_dlq`))))
  report(`P fill DLQ to ${DEPTH}`, `${((performance.now() - t) / 1000).toFixed(1)} s`)
  const page = async (filter: Record<string, unknown>, pages: number) => {
    const times: Array<number> = []
    let cursor: string | undefined
    for (let i = 0; i < pages; i++) {
      const t0 = performance.now()
      const result = await runtime.runPromise(Effect.flatMap(JobDlqRepo.JobDlqRepo, (repo) =>
        repo.listPending(filter, cursor === undefined ? { limit: 50 } : { limit: 50, cursor })))
      times.push(performance.now() - t0)
      cursor = result.nextCursor ?? undefined
    }
    return times
  }
  const all = await page({}, 200)
  report("P DLQ page (50 rows, no filter)", `p50 ${pct(all, 50).toFixed(2)} ms, p99 ${pct(all, 99).toFixed(2)} ms`)
  const tenant = await page({ tenantId: "t3", errorClass: "timeout" }, 200)
  report("P DLQ page (tenant + class)", `p50 ${pct(tenant, 50).toFixed(2)} ms, p99 ${pct(tenant, 99).toFixed(2)} ms`)
  await runtime.dispose()

  if (BULK > 0) {
    const bulk = await open({ databaseUrl: url, settings: { ...settings, replayBatch: 5000 }, maxAttempts: 3, role: "both" })
    t = performance.now()
    const replayed = await bulk.replayFailed()
    report("R bulk replay (one request)", `${replayed} in ${((performance.now() - t) / 1000).toFixed(2)} s`)
    await bulk.stop()
  }
}

const only = (process.env.BENCH_ONLY ?? "A,B,C,P,peers").split(",")
console.log(`redrive bench — node ${process.version}, ${adminUrl.replace(/\/\/.*@/, "//")}`)
if (only.includes("A")) await throughput()
if (only.includes("B")) await latency()
if (only.includes("C")) await failureAndReplay()
if (only.includes("P")) await deadLetterDepth()
if (only.includes("peers")) await runPeers(adminUrl)
process.exit(0)
