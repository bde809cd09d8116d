// Profiles the worker of workload A alone (issue 16): enqueues 20,000 jobs with the peers adapter's
// bundle, then drains them with its worker (Redrive.layerWorker, everything on) and prints the drain's
// wall time, Node CPU and peak RSS. With `--fail`, workload C instead: 2,000 jobs whose handler
// always throws, drained until all are dead letters (3 attempts each). Build first (`pnpm bench:build`), use a fresh database, e.g.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-drain.mjs postgres://postgres@127.0.0.1:5432/prof
// `h0`/`h1` (µs, the profile's clock) bound the drain inside the .cpuprofile.
const url = process.argv[2]
if (!url) throw new Error('usage: node bench/profile-drain.mjs <database url> [--fail]')
const fail = process.argv.includes('--fail')
const { open } = await import(new URL('./dist/redrive-peers.mjs', import.meta.url).href)
const n = fail ? 2000 : 20000
const calls = fail ? n * 3 : n
const settings = { batchSize: 2000, concurrency: 4000, pollMs: 500, replayBatch: 2000 }
const producer = await open({ databaseUrl: url, settings, maxAttempts: 3, role: 'producer' })
for (let i = 0; i < n; i += 1000) await producer.enqueueBatch(Array.from({ length: 1000 }, (_, j) => ({ i: i + j })))
await producer.stop()
const worker = await open({ databaseUrl: url, settings, maxAttempts: 3, role: 'worker' })
let count = 0
let done
const all = new Promise((resolve) => (done = resolve))
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const h0 = process.hrtime.bigint() / 1000n
await worker.startWorker(() => {
  if (++count === calls) done()
  if (fail) throw new Error('profile: always fails')
})
await all
while ((await worker.countTerminal()).pending > 0) await new Promise((resolve) => setTimeout(resolve, 10))
const cpu = process.cpuUsage(cpu0)
console.log(JSON.stringify({
  drain_ms: Math.round(performance.now() - t0),
  node_cpu_s: (cpu.user + cpu.system) / 1e6,
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  h0: String(h0),
  h1: String(process.hrtime.bigint() / 1000n)
}))
await worker.stop()
process.exit(0)
