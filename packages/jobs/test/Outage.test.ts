/**
 * A database outage longer than the settle's retries, under a process that runs only a worker:
 * the outcomes it could not settle are not lost. On a Postgres server of its own (stopped and
 * started by the test), so the other tests keep theirs.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Database, DatabaseUrl, EmbeddedPostgres, MigrationRunner } from "@redrive/database"
import { AdminClient, Scratch } from "@redrive/database/testing"
import { Effect, Exit, Schedule, Scope } from "effect"
import { join } from "node:path"
import { spawnWorker } from "./processFixtures.js"

describe("a database outage", () => {
  it.live("jobs whose settle failed while Postgres was down for 10 s run again after their lease, none dead-lettered", () =>
    Effect.gen(function*() {
      const dir = yield* Scratch.directory("redrive-outage")
      const options = { dataDir: join(dir, "postgres"), port: yield* Scratch.freePort, fast: true }
      const serverScope = yield* Scope.make()
      const server = yield* EmbeddedPostgres.start(options).pipe(Scope.extend(serverScope))
      yield* DatabaseUrl.ensureDatabase(server.adminUrl, "outage")
      const url = DatabaseUrl.withDatabase(server.adminUrl, "outage")
      const query = (text: string) => AdminClient.adminQuery(url, text)
      yield* MigrationRunner.up().pipe(
        Effect.provide([Database.layer({ url, maxConnections: 2, administrator: true }), NodeContext.layer]),
        Effect.scoped
      )
      yield* query(`create table run_log (n int not null, pid int not null, attempt int not null, event text not null,
        at timestamptz not null default clock_timestamp())`)
      const N = 60
      yield* query(`insert into redrive.job (queue, type, payload, max_attempts)
        select 'q-outage', 'process.job', jsonb_build_object('n', g), 5 from generate_series(0, ${N - 1}) g`)

      const worker = yield* spawnWorker(url, {
        WORKER_QUEUE: "q-outage",
        JOB_MILLIS: "1500",
        CONCURRENCY: "30",
        BATCH_SIZE: "30",
        LEASE_MILLIS: "2000",
        RESCUE_MILLIS: "500",
        ELECTION_MILLIS: "500",
        KEEP_COMPLETED: "1"
      })
      const started = (n: number) =>
        Effect.flatMap(query(`select count(*)::int as n from run_log where event = 'start'`), (rows) =>
          Number(rows[0]!["n"]) >= n ? Effect.void : Effect.fail("not yet" as const))
      yield* started(20).pipe(Effect.retry(Schedule.spaced("50 millis")), Effect.timeout("60 seconds"))

      // Down for 10 s while handlers are running: their outcomes cannot be settled.
      yield* Scope.close(serverScope, Exit.void)
      yield* Effect.sleep("10 seconds")
      const restarted = yield* EmbeddedPostgres.start(options)
      assert.isTrue(restarted.startedHere)

      const completed = Effect.flatMap(
        query(`select count(*)::int as n from redrive.job where queue = 'q-outage' and state = 'completed'`),
        (rows) => Number(rows[0]!["n"]) === N ? Effect.void : Effect.fail("not yet" as const)
      )
      yield* completed.pipe(Effect.retry(Schedule.spaced("200 millis")), Effect.timeout("90 seconds"))
      assert.isNull(worker.child.exitCode, "the same worker-only process finished the work")
      const dlq = yield* query(`select count(*)::int as n from redrive.job_dlq`)
      assert.strictEqual(Number(dlq[0]!["n"]), 0)
      const rescued = yield* query(`select count(*)::int as n from redrive.job
        where queue = 'q-outage' and error_history @> '[{"kind":"rescued"}]'`)
      assert.isAbove(Number(rescued[0]!["n"]), 0, worker.output().slice(-3000))
    }).pipe(Effect.scoped), { timeout: 180_000 })
})
