/**
 * The maintenance leader (the singleton that runs the rescuer, the breaker, the pruner, the
 * alerts): three worker processes elect one; it is SIGKILLed under load, twice, and the time from
 * the kill to the next leader's start is measured. From every process's log, the terms (start to
 * step-down or death) never overlap: no two processes ever ran the tasks at once. (A leader cut
 * off by a partition is Partition.faults.test.ts.)
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Schedule } from "effect"
import type { WorkerProcess } from "../processFixtures.js"
import { createFaultTables, enqueue, leads, loggedAt, outcome, queue, spawnFaultWorker, stepsDown, until } from "./faultFixtures.js"

const jobs = 6_000
const electionMillis = 1000

const settings = {
  FAULT_JOB_MILLIS: "5",
  FAULT_CONCURRENCY: "10",
  FAULT_BATCH_SIZE: "20",
  FAULT_LEASE_MILLIS: "3000",
  FAULT_RESCUE_MILLIS: "1000",
  FAULT_ELECTION_MILLIS: String(electionMillis)
}

interface Term {
  readonly pid: number
  readonly from: number
  readonly to: number
}

/** The leader among `processes` (the one whose log says so last, still alive), once there is one. */
const leaderOf = (processes: ReadonlyArray<WorkerProcess>) =>
  Effect.suspend(() => {
    const leading = processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null).filter((p) =>
      loggedAt(p.output(), leads).length > loggedAt(p.output(), stepsDown).length
    )
    return leading.length === 1 ? Effect.succeed(leading[0]!) : Effect.fail(`${leading.length} leaders` as const)
  }).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 1_500 }))

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("fault suite: the maintenance leader", (it) => {
  it.effect("SIGKILL of the leader under load: another leads within 5 s, terms never overlap", () =>
    Effect.gen(function*() {
      const { adminDatabaseUrl: url, url: runtimeUrl } = yield* TestDatabase.TestDatabaseInfo
      yield* createFaultTables(url)
      const processes: Array<WorkerProcess> = yield* Effect.all([1, 2, 3].map(() => spawnFaultWorker(runtimeUrl, settings)), {
        concurrency: "unbounded"
      })
      yield* enqueue(url, 0, jobs)
      const killedAt = new Map<number, number>()
      const failovers: Array<number> = []
      for (const round of [1, 2]) {
        yield* until(url, `select count(*) from public.fault_run`, (n) => n >= (jobs / 4) * round, "120 seconds", "20 millis")
        const leader = yield* leaderOf(processes)
        leader.child.kill("SIGKILL")
        killedAt.set(leader.pid, Date.now())
        yield* leader.exited
        const next = yield* leaderOf(processes)
        const started = loggedAt(next.output(), leads).at(-1)!
        failovers.push(started - killedAt.get(leader.pid)!)
        // A replacement keeps three processes in the election.
        processes.push(yield* spawnFaultWorker(runtimeUrl, settings))
      }
      yield* until(url, `select count(*) from redrive.job where queue = '${queue}'`, (n) => n === 0, "180 seconds", "200 millis")
      const result = yield* outcome(url, jobs)

      const terms: Array<Term> = processes.flatMap((p) => {
        const from = loggedAt(p.output(), leads)
        const to = loggedAt(p.output(), stepsDown)
        return from.map((start, i) => ({ pid: p.pid, from: start, to: to[i] ?? killedAt.get(p.pid) ?? Date.now() }))
      }).sort((a, b) => a.from - b.from)
      console.log(
        `fault suite leader: ${terms.length} terms over ${processes.length} processes; SIGKILL of the leader -> ` +
          `next leader's tasks start in ${failovers.map((ms) => `${ms} ms`).join(" and ")} (election every ${electionMillis} ms); ` +
          `${jobs} jobs, ran more than their policy says: ${result.ranTwice.length}, settled twice: ${result.settledTwice}`
      )
      for (const ms of failovers) assert.isBelow(ms, 5_000)
      for (let i = 1; i < terms.length; i++) {
        assert.isAtMost(terms[i - 1]!.to, terms[i]!.from, `terms overlap: ${JSON.stringify(terms)}`)
      }
      assert.strictEqual(result.unfinished, 0)
      assert.strictEqual(result.neverRan, 0)
      assert.strictEqual(result.settledTwice, 0)
      assert.strictEqual(result.settles, jobs)
      // Reruns beyond the policy: only jobs a killed leader held.
      assert.deepStrictEqual(result.ranTwice.filter((r) => !r.pids.some((pid) => killedAt.has(pid))), [])
    }).pipe(Effect.scoped), 400_000)
})
