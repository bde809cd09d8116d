/**
 * PostgreSQL stopped for 30 s mid-run, and separately restarted, under two worker processes: they
 * reconnect, LISTEN resumes (jobs start on a NOTIFY, well before the 15 s poll), no job is lost,
 * none completes twice, nothing is dead-lettered. On a Postgres server of the test's own, started
 * and stopped by it (never the shared one).
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Database, DatabaseUrl, EmbeddedPostgres, MigrationRunner } from "@redrive/database"
import { Scratch } from "@redrive/database/testing"
import { Duration, Effect, Exit, Scope } from "effect"
import { join } from "node:path"
import { createFaultTables, enqueue, failingOnce, outcome, query, queue, scalar, spawnFaultWorker, until } from "./faultFixtures.js"

const jobs = 3000

const settings = {
  FAULT_JOB_MILLIS: "20",
  FAULT_CONCURRENCY: "10",
  FAULT_BATCH_SIZE: "20",
  FAULT_LEASE_MILLIS: "3000",
  FAULT_RESCUE_MILLIS: "500",
  FAULT_ELECTION_MILLIS: "500",
  // Long polls: a job that starts within a second of its enqueue was woken by LISTEN/NOTIFY.
  FAULT_POLL_MILLIS: "15000",
  FAULT_KEEP_COMPLETED: "1"
}

const throughOutage = (down: Duration.DurationInput) =>
  Effect.gen(function*() {
    const dir = yield* Scratch.directory("redrive-faults-outage")
    const options = { dataDir: join(dir, "postgres"), port: yield* Scratch.freePort, fast: true }
    const serverScope = yield* Scope.make()
    const server = yield* EmbeddedPostgres.start(options).pipe(Scope.extend(serverScope))
    yield* DatabaseUrl.ensureDatabase(server.adminUrl, "faults")
    const url = DatabaseUrl.withDatabase(server.adminUrl, "faults")
    yield* MigrationRunner.up().pipe(
      Effect.provide([Database.layer({ url, maxConnections: 2, administrator: true }), NodeContext.layer]),
      Effect.scoped
    )
    yield* createFaultTables(url)
    // As the administrator: the embedded server authenticates by password, which the runtime role has not.
    const workers = yield* Effect.all([1, 2].map(() => spawnFaultWorker(url, settings)), {
      concurrency: "unbounded"
    })
    yield* enqueue(url, 0, jobs)
    yield* until(url, `select count(*) from public.fault_run`, (n) => n >= 800, "60 seconds", "20 millis").pipe(
      Effect.tapError(() => Effect.sync(() => console.log(workers.map((w) => w.output().slice(-3000)).join("\n----\n"))))
    )

    // The outage, with jobs running, settling and waiting.
    const stoppedAt = Date.now()
    yield* Scope.close(serverScope, Exit.void)
    yield* Effect.sleep(down)
    const restarted = yield* EmbeddedPostgres.start(options)
    assert.isTrue(restarted.startedHere)
    const upAt = Date.now()

    yield* until(url, `select count(*) from redrive.job where queue = '${queue}' and state = 'completed'`, (n) => n === jobs, "180 seconds", "500 millis")
    const drained = (Date.now() - upAt) / 1000

    // LISTEN resumed: new jobs start on their NOTIFY, long before the next poll (15 s).
    // (Each worker's listener is back: its connection's last statement is the LISTEN.)
    yield* until(
      url,
      `select count(*) from pg_stat_activity where datname = 'faults' and query = 'LISTEN "redrive_jobs"'`,
      (n) => n >= workers.length,
      "30 seconds"
    )
    const wakeUps: Array<number> = []
    for (let probe = 0; probe < 3; probe++) {
      yield* Effect.sleep("300 millis")
      const at = Date.now()
      yield* enqueue(url, jobs + probe, 1)
      yield* until(url, `select count(*) from public.fault_run where n = ${jobs + probe}`, (n) => n >= 1, "5 seconds", "20 millis").pipe(
        Effect.tapError(() => Effect.sync(() => console.log(workers.map((w) => w.output().slice(-4000)).join("\n----\n"))))
      )
      wakeUps.push(Date.now() - at)
    }

    // The probes settle too (job 3000 fails once first, as every tenth does).
    yield* until(url, `select count(*) from redrive.job where queue = '${queue}' and state = 'completed'`, (n) => n === jobs + 3, "30 seconds")
    const result = yield* outcome(url, jobs + 3)
    const unexplained = yield* scalar(
      url,
      `select count(*) from (select r.n from public.fault_run r join redrive.job j on j.id = r.job_id
         group by r.n, j.error_history having count(*) > case when r.n % 10 = 0 then 2 else 1 end
         and not j.error_history @> '[{"kind":"rescued"}]') x`
    )
    const rescued = yield* scalar(url, `select count(*) from redrive.job where error_history @> '[{"kind":"rescued"}]'`)
    console.log(
      `fault suite outage (${Duration.format(Duration.decode(down))} down): ${jobs} jobs; back up ` +
        `${((upAt - stoppedAt) / 1000).toFixed(1)} s after the stop, drained ${drained.toFixed(1)} s later; ` +
        `rescued after the outage: ${rescued}; ran more than their policy says: ${result.ranTwice.length} ` +
        `(without a rescue: ${unexplained}); settled twice: ${result.settledTwice}; dead-lettered: ${result.deadLettered}; ` +
        `NOTIFY → start: ${wakeUps.join(", ")} ms`
    )
    const states = yield* query(url, `select state, count(*)::int as n from redrive.job group by state`)
    assert.strictEqual(result.unfinished, 0, JSON.stringify(states))
    assert.strictEqual(result.deadLettered, 0, "nothing dead-lettered because of the outage")
    assert.strictEqual(result.neverRan, 0)
    assert.strictEqual(result.retriedAsPolicy, failingOnce(jobs + 3))
    assert.strictEqual(result.settles, jobs + 3, "one settle per job")
    assert.strictEqual(result.settledTwice, 0, "none completed twice")
    // A run beyond the policy is one whose settle the outage swallowed: its job carries the rescue.
    assert.strictEqual(unexplained, 0)
    for (const w of wakeUps) assert.isBelow(w, 2000, `a job started ${w} ms after its NOTIFY (poll: 15 s)`)
    for (const w of workers) assert.isNull(w.child.exitCode, w.output().slice(-3000))
  }).pipe(Effect.scoped)

describe("fault suite: PostgreSQL goes away", () => {
  it.live("stopped for 30 s mid-run: workers reconnect, LISTEN resumes, nothing lost, doubled or dead-lettered", () =>
    throughOutage("30 seconds"), 400_000)

  it.live("restarted mid-run: workers reconnect, LISTEN resumes, nothing lost, doubled or dead-lettered", () =>
    throughOutage("0 millis"), 400_000)
})
