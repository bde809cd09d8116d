/**
 * The side-by-side part of `pnpm bench`: runs the peers harness (graphile-worker, pg-boss and the
 * raw-`pg` reference, with bench/peers-adapter.mjs for Redrive) once, and prints the ratio table
 * of issue 16's goals from that one run, each marked met or not. The harness is not part of this
 * repository: it is read from BENCH_PEERS_DIR (default ../shared/bench-peers beside the checkout),
 * copied to a temporary folder and installed there with `npm ci`. Without it the table is
 * skipped with a message saying so; Redrive's own figures (bench.ts) do not need it.
 */
import { execFileSync, spawn } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Schema } from "effect"

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..")

const Figure = Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null })
const Median = Schema.Struct({
  system: Schema.String,
  workload: Schema.String,
  variant: Schema.String,
  seconds: Figure,
  jobs_per_s: Figure,
  p50_ms: Figure,
  p99_ms: Figure,
  rss_mb: Figure,
  excl_enforced_delay_s: Figure
})
type Median = typeof Median.Type

/** The part of the harness's results-<out>.json this table reads. */
const Results = Schema.Struct({
  meta: Schema.Struct({ date: Schema.String, duration_s: Schema.Number, node: Schema.String }),
  medians: Schema.Array(Median)
})
type Results = typeof Results.Type

const REDRIVE = "redrive"
const REFERENCE = "reference (raw pg)"
/** bench/floor-adapter.mjs: the reference's queue written on Effect and @effect/sql-pg alone. */
const FLOOR = "effect floor"
const PEERS = ["graphile-worker", "pg-boss"]

const num = (x: number | null | undefined, what: string): number => {
  if (x === null || x === undefined || !Number.isFinite(x)) throw new Error(`peers: the results have no ${what}`)
  return x
}

/** Each system's A.process median with the most jobs/s (the harness's "best variant"). */
const bestA = (medians: ReadonlyArray<Median>, system: string) => {
  const runs = medians.filter((m) => m.system === system && m.workload === "A.process")
  if (runs.length === 0) throw new Error(`peers: no A.process result for ${system}`)
  return runs.reduce((a, b) => (num(b.jobs_per_s, "jobs/s") > num(a.jobs_per_s, "jobs/s") ? b : a))
}

const one = (medians: ReadonlyArray<Median>, system: string, workload: string) => {
  const m = medians.find((x) => x.system === system && x.workload === workload)
  if (m === undefined) throw new Error(`peers: no ${workload} result for ${system}`)
  return m
}

const f = (x: number, digits = 2) => x.toFixed(digits)

export interface GoalRow {
  readonly workload: string
  readonly redrive: string
  readonly peers: string
  readonly reference: string
  readonly ratios: string
  readonly goal: string
  readonly met: boolean
}

/** Issue 16's table, from the medians of one harness run. */
export const goalTable = (results: Results): ReadonlyArray<GoalRow> => {
  const m = results.medians
  const systems = new Set(m.map((x) => x.system))
  const peers = PEERS.filter((p) => systems.has(p))
  if (!systems.has(REDRIVE) || !systems.has(REFERENCE) || peers.length === 0) {
    throw new Error(`peers: the run must include redrive, the reference and a peer; it has ${[...systems].join(", ")}`)
  }
  const rows: Array<GoalRow> = []

  const a = num(bestA(m, REDRIVE).jobs_per_s, "jobs/s")
  const aPeer = Math.max(...peers.map((p) => num(bestA(m, p).jobs_per_s, "jobs/s")))
  const aRef = num(bestA(m, REFERENCE).jobs_per_s, "jobs/s")
  rows.push({
    workload: "A throughput, best variant (jobs/s)",
    redrive: `${a}`,
    peers: peers.map((p) => `${p} ${bestA(m, p).jobs_per_s}`).join(", "),
    reference: `${aRef}`,
    ratios: `${f(a / aPeer)}× best peer, ${f(a / aRef)}× reference`,
    goal: "≥ 2× best peer and ≥ 0.75× reference",
    met: a >= 2 * aPeer && a >= 0.75 * aRef
  })

  const b = one(m, REDRIVE, "B.latency")
  const bRef = one(m, REFERENCE, "B.latency")
  const bPeer50 = Math.min(...peers.map((p) => num(one(m, p, "B.latency").p50_ms, "p50")))
  const bPeer99 = Math.min(...peers.map((p) => num(one(m, p, "B.latency").p99_ms, "p99")))
  const b50 = num(b.p50_ms, "p50")
  const b99 = num(b.p99_ms, "p99")
  rows.push({
    workload: "B latency p50 / p99 (ms)",
    redrive: `${b50} / ${b99}`,
    peers: peers.map((p) => `${p} ${one(m, p, "B.latency").p50_ms} / ${one(m, p, "B.latency").p99_ms}`).join(", "),
    reference: `${bRef.p50_ms} / ${bRef.p99_ms}`,
    ratios: `${f(b50 / num(bRef.p50_ms, "p50"))}× / ${f(b99 / num(bRef.p99_ms, "p99"))}× reference`,
    goal: "≤ best peer on both, ≤ 1.25× reference",
    met: b50 <= bPeer50 && b99 <= bPeer99 && b50 <= 1.25 * num(bRef.p50_ms, "p50") && b99 <= 1.25 * num(bRef.p99_ms, "p99")
  })

  const c = num(one(m, REDRIVE, "C.failure").seconds, "seconds")
  const cRef = num(one(m, REFERENCE, "C.failure").seconds, "seconds")
  const cBoss = systems.has("pg-boss") ? num(one(m, "pg-boss", "C.failure").seconds, "seconds") : null
  rows.push({
    workload: "C failure path, 3 attempts → DLQ (s)",
    redrive: f(c),
    peers: peers.map((p) => {
      const x = one(m, p, "C.failure")
      return `${p} ${f(num(x.seconds, "seconds"))}${x.excl_enforced_delay_s !== null && x.excl_enforced_delay_s !== x.seconds ? ` (${f(x.excl_enforced_delay_s)} excl. backoff)` : ""}`
    }).join(", "),
    reference: f(cRef),
    ratios: `${cBoss === null ? "–" : f(c / cBoss)}× pg-boss, ${f(c / cRef)}× reference`,
    goal: "≤ 0.5× pg-boss and ≤ 1.5× reference",
    met: cBoss !== null && c <= 0.5 * cBoss && c <= 1.5 * cRef
  })

  const d = num(one(m, REDRIVE, "D.replay").seconds, "seconds")
  const dRef = num(one(m, REFERENCE, "D.replay").seconds, "seconds")
  const dPeer = Math.min(...peers.map((p) => num(one(m, p, "D.replay").seconds, "seconds")))
  rows.push({
    workload: "D replay until re-run (s)",
    redrive: f(d),
    peers: peers.map((p) => `${p} ${f(num(one(m, p, "D.replay").seconds, "seconds"))}`).join(", "),
    reference: f(dRef),
    ratios: `${f(d / dPeer)}× best peer, ${f(d / dRef)}× reference`,
    goal: "≤ 0.2× best peer and ≤ 3× reference",
    met: d <= 0.2 * dPeer && d <= 3 * dRef
  })

  const e = num(bestA(m, REDRIVE).rss_mb, "RSS")
  const eGraphile = systems.has("graphile-worker") ? num(bestA(m, "graphile-worker").rss_mb, "RSS") : null
  rows.push({
    workload: "E worker peak RSS in A (MB)",
    redrive: `${e}`,
    peers: peers.map((p) => `${p} ${bestA(m, p).rss_mb}`).join(", "),
    reference: `${bestA(m, REFERENCE).rss_mb}`,
    ratios: `${eGraphile === null ? "–" : f(e / eGraphile)}× graphile-worker`,
    goal: "≤ 0.8× graphile-worker",
    met: eGraphile !== null && e <= 0.8 * eGraphile
  })
  return rows
}

export interface FloorRow {
  readonly workload: string
  readonly reference: number
  readonly floor: number
  readonly redrive: number
}

/**
 * Where each gap to the reference lies: the stack (the Effect floor against the reference) or
 * what Redrive does on top of it (Redrive against the floor).
 */
export const floorTable = (results: Results): ReadonlyArray<FloorRow> => {
  const m = results.medians
  const row = (workload: string, figure: (system: string) => number) => ({
    workload,
    reference: figure(REFERENCE),
    floor: figure(FLOOR),
    redrive: figure(REDRIVE)
  })
  return [
    row("A throughput, best variant (jobs/s)", (s) => num(bestA(m, s).jobs_per_s, "jobs/s")),
    row("B latency p50 (ms)", (s) => num(one(m, s, "B.latency").p50_ms, "p50")),
    row("B latency p99 (ms)", (s) => num(one(m, s, "B.latency").p99_ms, "p99")),
    row("C failure path (s)", (s) => num(one(m, s, "C.failure").seconds, "seconds")),
    row("D replay until re-run (s)", (s) => num(one(m, s, "D.replay").seconds, "seconds")),
    row("E worker peak RSS in A (MB)", (s) => num(bestA(m, s).rss_mb, "RSS"))
  ]
}

export const renderFloorTable = (rows: ReadonlyArray<FloorRow>) =>
  [
    "| workload | reference | Effect floor | Redrive | floor ÷ reference (the stack) | Redrive ÷ floor (Redrive's features) |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows.map((r) =>
      `| ${r.workload} | ${r.reference} | ${r.floor} | ${r.redrive} | ${f(r.floor / r.reference)}× | ${f(r.redrive / r.floor)}× |`
    )
  ].join("\n")

export const renderTable = (rows: ReadonlyArray<GoalRow>) =>
  [
    "| workload | Redrive | peers | reference | ratios | goal | met |",
    "|---|--:|---|--:|---|---|---|",
    ...rows.map((r) => `| ${r.workload} | ${r.redrive} | ${r.peers} | ${r.reference} | ${r.ratios} | ${r.goal} | ${r.met ? "**met**" : "not met"} |`)
  ].join("\n")

/** Runs the harness once (rounds from BENCH_PEERS_ROUNDS, default 3) and prints the table. */
export const runPeers = async (adminUrl: string) => {
  const source = resolve(process.env.BENCH_PEERS_DIR ?? join(repo, "../shared/bench-peers"))
  if (!existsSync(join(source, "bench.js"))) {
    console.log(`peers table skipped: no bench-peers harness at ${source} (set BENCH_PEERS_DIR to a copy of it)`)
    return
  }
  const rounds = Number(process.env.BENCH_PEERS_ROUNDS ?? 3)
  const work = mkdtempSync(join(tmpdir(), "redrive-peers-"))
  try {
    const dir = join(work, "bench-peers")
    cpSync(source, dir, { recursive: true, filter: (p) => !p.includes("node_modules") && !/results-.*\.(json|md)$/.test(p) })
    console.log(`peers: installing the harness in ${dir} (npm ci)`)
    execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] })
    const args = [
      "bench.js",
      `--rounds=${rounds}`,
      "--only=A,B,C,D",
      `--systems=graphile,pgboss,reference,${join(repo, "bench/floor-adapter.mjs")},${join(repo, "bench/peers-adapter.mjs")}`,
      "--out=results-redrive"
    ]
    console.log(`peers: node ${args.join(" ")}  (${rounds} rounds, several minutes; log in ${dir}/run.log)`)
    const code = await new Promise<number | null>((done) => {
      const child = spawn(process.execPath, args, {
        cwd: dir,
        env: { ...process.env, DATABASE_URL: adminUrl },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const log: Array<Buffer> = []
      child.stdout.on("data", (b: Buffer) => log.push(b))
      child.stderr.on("data", (b: Buffer) => log.push(b))
      child.on("close", (c) => {
        writeFileSync(join(dir, "run.log"), Buffer.concat(log))
        done(c)
      })
    })
    if (code !== 0) throw new Error(`peers: the harness exited with ${code}; see ${dir}/run.log`)
    const file = readdirSync(dir).find((n) => n.startsWith("results-redrive") && n.endsWith(".json"))
    if (file === undefined) throw new Error("peers: the harness wrote no results file")
    const results = Schema.decodeUnknownSync(Schema.parseJson(Results))(readFileSync(join(dir, file), "utf8"))
    const table = renderTable(goalTable(results))
    const floor = renderFloorTable(floorTable(results))
    const floorCaption = "The Effect floor (bench/floor-adapter.mjs) is the reference's queue written on Effect and " +
      "@effect/sql-pg with nothing of Redrive's on top."
    const markdown = readFileSync(join(dir, file.replace(/\.json$/, ".md")), "utf8")
    const out = join(repo, "docs/peers-last-run.md")
    writeFileSync(
      out,
      `# Peers harness, last run (\`pnpm bench\`)\n\n${results.meta.date}, node ${results.meta.node}, ${rounds} rounds, ` +
        `${results.meta.duration_s} s.\n\n## Issue 16's goals\n\n${table}\n\n## Where the gap is: the stack or Redrive\n\n${floorCaption}\n\n${floor}\n\n## The harness's own tables\n\n` +
        markdown.replace(/^# .*\n/, "").replace(/^## /gm, "### ")
    )
    console.log(`\nRatio table against the peers (one run, medians of ${rounds} rounds; also in docs/peers-last-run.md):\n`)
    console.log(table)
    console.log(`\nWhere the gap is: the stack or Redrive. ${floorCaption}\n\n${floor}`)
  } finally {
    if (process.env.BENCH_PEERS_KEEP === undefined) rmSync(work, { recursive: true, force: true })
  }
}
