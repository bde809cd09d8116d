/**
 * A network partition between one worker process and Postgres: a TCP proxy stops forwarding
 * without closing anything. The cut-off worker is the maintenance leader: it steps down, Postgres
 * ends its silent session and frees the lock, and the other worker leads (never both at once). The
 * cut-off worker's leases expire, the other worker rescues and finishes its jobs; when the
 * partition heals, the cut-off worker's late settles reach Postgres and are refused (a worker
 * settles only rows it still leases): no job completes twice.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Redacted } from "effect"
import {
  createFaultTables,
  enqueue,
  leads,
  loggedAt,
  outcome,
  query,
  queue,
  scalar,
  spawnFaultWorker,
  stepsDown,
  until
} from "./faultFixtures.js"
import { tcpProxy } from "./tcpProxy.js"

const jobs = 400

const settings = {
  FAULT_JOB_MILLIS: "400",
  FAULT_CONCURRENCY: "10",
  FAULT_BATCH_SIZE: "10",
  FAULT_LEASE_MILLIS: "2000",
  FAULT_RESCUE_MILLIS: "500",
  FAULT_ELECTION_MILLIS: "500"
}

/** `url` with its host and port replaced (the proxy's). */
const via = (url: Redacted.Redacted, port: number) => {
  const parsed = new URL(Redacted.value(url))
  parsed.hostname = "127.0.0.1"
  parsed.port = String(port)
  return Redacted.make(parsed.toString())
}

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("fault suite: a network partition", (it) => {
  it.effect("a worker cut off from Postgres: its jobs are rescued elsewhere, its late settles refused", () =>
    Effect.gen(function*() {
      const { adminDatabaseUrl: url, url: runtimeUrl } = yield* TestDatabase.TestDatabaseInfo
      yield* createFaultTables(url)
      const target = new URL(Redacted.value(runtimeUrl))
      const proxy = yield* tcpProxy({ host: target.hostname, port: Number(target.port || 5432) })

      // The worker behind the proxy leads maintenance (the rescuer): the partition takes the leader.
      const cut = yield* spawnFaultWorker(via(runtimeUrl, proxy.port), settings)
      yield* cut.waitFor(leads)
      const direct = yield* spawnFaultWorker(runtimeUrl, settings)
      const cutId = `fault-${cut.pid}`
      yield* enqueue(url, 0, jobs)
      const heldByCut = `select count(*) from redrive.job where state = 'running' and locked_by = '${cutId}'`
      yield* until(url, heldByCut, (n) => n >= 5, "60 seconds", "20 millis")

      yield* proxy.partition
      // What it holds now: running on it, or claimed and waiting for it — all leased to it.
      yield* query(url, `create table public.fault_held as
        select id from redrive.job where state = 'running' and locked_by = '${cutId}'`)
      const ids = yield* scalar(url, `select count(*) from public.fault_held`)
      assert.isAbove(ids, 0)

      // The leader steps down; Postgres ends its silent session, and the direct worker leads.
      const partitionedAt = Date.now()
      const directLeads = yield* direct.waitFor(leads, 60_000)
      const leaderFailover = (directLeads - partitionedAt) / 1000
      const stepDown = loggedAt(cut.output(), stepsDown)[0]
      assert.isDefined(stepDown, `the cut-off leader did not step down:\n${cut.output().slice(-3000)}`)
      assert.isBelow(stepDown!, loggedAt(direct.output(), leads)[0]!, "two leaders at once")

      // Its leases expire; the new leader's rescuer frees them, the direct worker finishes every one.
      yield* until(url, `select count(*) from redrive.job where id in (select id from public.fault_held)`, (n) => n === 0, "60 seconds", "100 millis")
      const rescuedIn = (Date.now() - partitionedAt) / 1000

      // Healed: what the cut-off worker sent meanwhile (its settles included) reaches Postgres now.
      yield* proxy.heal
      yield* until(url, `select count(*) from redrive.job where queue = '${queue}'`, (n) => n === 0, "90 seconds", "200 millis")
      yield* Effect.sleep("3 seconds")
      const result = yield* outcome(url, jobs)
      const settledByCut = yield* scalar(
        url,
        `select count(*) from public.fault_settle where job_id in (select id from public.fault_held) and locked_by = '${cutId}'`
      )
      const ranOnCut = yield* scalar(
        url,
        `select count(distinct job_id) from public.fault_run where job_id in (select id from public.fault_held) and pid = ${cut.pid}`
      )
      console.log(
        `fault suite partition: the cut-off leader stepped down ${((stepDown! - partitionedAt) / 1000).toFixed(1)} s after the cut, ` +
          `the other worker led after ${leaderFailover.toFixed(1)} s; ` +
          `${ids} jobs leased by the cut-off worker, rescued and finished elsewhere ${rescuedIn.toFixed(1)} s ` +
          `after the cut; ${ranOnCut} of them had run there (their settles arrived late); settled by it: ${settledByCut}; ` +
          `ran more than their policy says: ${result.ranTwice.length}; settled twice: ${result.settledTwice}`
      )
      assert.strictEqual(result.unfinished, 0)
      assert.strictEqual(result.deadLettered, 0)
      assert.strictEqual(result.neverRan, 0)
      assert.strictEqual(result.settles, jobs, "one settle per job")
      assert.strictEqual(result.settledTwice, 0, "no double completion")
      assert.strictEqual(settledByCut, 0, "the cut-off worker's late settles of rescued jobs were refused")
      assert.isAbove(ranOnCut, 0, "the cut-off worker had run jobs it then could not settle")
      assert.deepStrictEqual(result.ranTwice.filter((r) => !r.pids.includes(cut.pid)), [], "reruns not explained by the partition")
      assert.isAtMost(result.ranTwice.length, ids)
    }).pipe(Effect.scoped), 300_000)
})
