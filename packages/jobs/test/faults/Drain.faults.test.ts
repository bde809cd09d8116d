/**
 * Three worker processes drain FAULT_JOBS jobs (10 % fail transiently once) while one is killed
 * with SIGKILL at a random moment and another stopped with SIGTERM; a replacement starts. Every
 * job completes as its policy says, none is lost, and a job runs more often than its policy
 * gives it only if it was in flight on the killed process.
 *
 * FAULT_JOBS: default 50,000 (about 4 min here); FAULT_SEED replays the kill moments.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect } from "effect"
import { createFaultTables, enqueue, failingOnce, outcome, queue, scalar, spawnFaultWorker, until } from "./faultFixtures.js"

const jobs = Number(process.env.FAULT_JOBS ?? 50_000)
const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000)

/** A reproducible draw in [0, 1) from the seed (mulberry32). */
const draw = (salt: number) => {
  let t = (seed + salt * 0x6d2b79f5) >>> 0
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const settings = {
  FAULT_CONCURRENCY: "20",
  FAULT_BATCH_SIZE: "50",
  FAULT_LEASE_MILLIS: "3000",
  FAULT_RESCUE_MILLIS: "1000",
  FAULT_ELECTION_MILLIS: "1000",
  FAULT_GRACE_MILLIS: "10000"
}

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("fault suite: kill and stop workers mid-drain", (it) => {
  it.effect(`3 workers drain ${jobs} jobs through a SIGKILL and a SIGTERM: none lost, reruns only from the killed one`, () =>
    Effect.gen(function*() {
      const { adminDatabaseUrl: url, url: runtimeUrl } = yield* TestDatabase.TestDatabaseInfo
      yield* createFaultTables(url)
      const [a, b, c] = yield* Effect.all([1, 2, 3].map(() => spawnFaultWorker(runtimeUrl, settings)), { concurrency: "unbounded" })
      const killAt = Math.floor(jobs * (0.1 + 0.4 * draw(1)))
      const stopAt = Math.min(jobs - 1, killAt + Math.floor(jobs * (0.05 + 0.2 * draw(2))))
      console.log(`fault suite drain: ${jobs} jobs, seed ${seed}: SIGKILL after ${killAt} runs, SIGTERM after ${stopAt}`)

      const started = Date.now()
      yield* enqueue(url, 0, jobs)
      const runs = `select count(*) from public.fault_run`
      const drainTimeout = `${Math.max(120, Math.ceil(jobs / 100))} seconds` as const

      // SIGKILL: whatever it holds stays 'running' until its lease expires and the rescuer frees it.
      yield* until(url, runs, (n) => n >= killAt, drainTimeout, "20 millis")
      a!.child.kill("SIGKILL")
      yield* a!.exited
      const inFlight = yield* scalar(
        url,
        `select count(*) from redrive.job where queue = '${queue}' and state = 'running' and locked_by = 'fault-${a!.pid}'`
      )

      // SIGTERM: it stops claiming, finishes what it runs within its grace, settles, exits 0.
      yield* until(url, runs, (n) => n >= stopAt, drainTimeout, "20 millis")
      b!.child.kill("SIGTERM")
      assert.strictEqual(yield* b!.exited, 0, b!.output().slice(-3000))
      const d = yield* spawnFaultWorker(runtimeUrl, settings)

      yield* until(url, `select count(*) from redrive.job where queue = '${queue}'`, (n) => n === 0, drainTimeout, "500 millis")
      const seconds = (Date.now() - started) / 1000
      const result = yield* outcome(url, jobs)
      const killedReruns = result.ranTwice.filter((r) => r.pids.includes(a!.pid))
      console.log(
        `fault suite drain: ${jobs} jobs drained in ${seconds.toFixed(1)} s (${(jobs / seconds).toFixed(0)} jobs/s, ` +
          `including a replacement's start-up); in flight on the SIGKILLed worker: ${inFlight}; ` +
          `ran more than their policy says: ${result.ranTwice.length} (all with the killed pid: ${killedReruns.length}); ` +
          `retried as policy: ${result.retriedAsPolicy}/${failingOnce(jobs)}; dead-lettered: ${result.deadLettered}; ` +
          `settled twice: ${result.settledTwice}`
      )

      assert.strictEqual(result.unfinished, 0)
      assert.strictEqual(result.deadLettered, 0, "the policy gives 5 attempts; a job fails at most once")
      assert.strictEqual(result.neverRan, 0)
      assert.strictEqual(result.retriedAsPolicy, failingOnce(jobs), "every 10 % job failed once and ran again")
      assert.strictEqual(result.settles, jobs, "one settle per job")
      assert.strictEqual(result.settledTwice, 0)
      // Reruns beyond the policy: only jobs the killed worker held, each once.
      assert.deepStrictEqual(result.ranTwice.filter((r) => !r.pids.includes(a!.pid)), [], "reruns not explained by the kill")
      assert.isAtMost(result.ranTwice.length, inFlight)
      for (const r of result.ranTwice) assert.strictEqual(r.extra, 1, `job ${r.n} ran twice at most`)
      // The survivors and the replacement are still running: the faults did not take them down.
      for (const p of [c!, d]) assert.isNull(p.child.exitCode, p.output().slice(-3000))
    }).pipe(Effect.scoped), 600_000)
})
