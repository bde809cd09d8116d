/**
 * A worker as a deployed service meets it: a real child process that runs only Worker.layer
 * (maintenance on by default, no rescuer layer anywhere), stopped by a signal or killed.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import { processTestTimeout, spawnWorker } from "./processFixtures.js"
import { count, eventually } from "./workerFixtures.js"
import { Schema } from "effect"

const definition = (queue: string) =>
  JobDefinition.make({ name: "process.job", queue, payload: Schema.Struct({ n: Schema.Int }), retry: { maxAttempts: 5, base: 0 } })

const createRunLog = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`create table if not exists run_log (n int not null, pid int not null, attempt int not null, event text not null,
        at timestamptz not null default clock_timestamp())`)


layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("a worker process", (it) => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.effect(`on ${signal} mid-batch exits 0 within its grace, settles what finished and releases the rest`, () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const info = yield* TestDatabase.TestDatabaseInfo
        const queue = Factory.queue()
        yield* createRunLog
        // 40 jobs, 10 held at once, 400 ms each: a signal lands with jobs running and jobs waiting.
        yield* Enqueue.many(definition(queue), Array.from({ length: 40 }, (_, n) => ({ n })))
        const worker = yield* spawnWorker(info.url, {
          WORKER_QUEUE: queue,
          JOB_MILLIS: "400",
          GRACE_MILLIS: "250",
          CONCURRENCY: "10",
          BATCH_SIZE: "10"
        })
        yield* eventually(count(`run_log where event = 'start' and pid = ${worker.pid}`), (n) => n >= 22, "60 seconds")
        const signalled = Date.now()
        worker.child.kill(signal)
        const code = yield* worker.exited
        const took = Date.now() - signalled
        assert.strictEqual(code, 0, worker.output())
        assert.isBelow(took, 250 + 2500, `exited ${took} ms after ${signal}`)
        // Nothing left running, nothing lost: every job is finished (deleted) or back waiting.
        assert.strictEqual(yield* count(`redrive.job where queue = '${queue}' and state = 'running'`), 0)
        const ended = yield* sql<{ n: number }>`select distinct n from run_log where event = 'end' and pid = ${worker.pid}`
        const waiting = yield* sql<{ n: number; attempt: number; history: number }>`
          select (payload->>'n')::int as n, attempt, jsonb_array_length(error_history) as history
          from redrive.job where queue = ${queue}`
        for (const w of waiting) {
          assert.strictEqual(w.attempt, 0, `job ${w.n} released with its attempt restored`)
          assert.strictEqual(w.history, 0)
        }
        // Every job that is gone ran to its end: nothing was settled that did not finish.
        const gone = Array.from({ length: 40 }, (_, n) => n).filter((n) => !waiting.some((w) => w.n === n))
        assert.deepStrictEqual(gone.filter((n) => !ended.some((e) => e.n === n)), [])
        // And what finished was settled, not left to run again — except a job whose handler
        // logged its end (the handler's last statement) around the time the grace ran out: the
        // interruption can land between that insert and the handler's return, and such a job is
        // released (attempt restored), as any interrupted job is. How many do depends on the
        // machine's load; what must hold is that every job that ended well before the signal
        // (300 ms; the first ten ended ~400 ms before it) was settled.
        const endedEarly = yield* sql<{ n: number }>`
          select distinct n from run_log where event = 'end' and pid = ${worker.pid}
            and at < to_timestamp(${(signalled - 300) / 1000})`
        assert.isAbove(endedEarly.length, 0, "jobs ended well before the signal")
        const releasedAfterEnding = waiting.filter((w) => endedEarly.some((e) => e.n === w.n))
        assert.deepStrictEqual(releasedAfterEnding, [], "a job that ended before the signal was settled")
        assert.isAbove(gone.length, 0)
        assert.isAbove(waiting.length, 0)
      }).pipe(Effect.scoped), processTestTimeout)
  }

  it.effect("killed with SIGKILL mid-batch, its jobs are finished by another worker-only process", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const info = yield* TestDatabase.TestDatabaseInfo
      const queue = Factory.queue()
      yield* createRunLog
      const N = 200
      yield* Enqueue.many(definition(queue), Array.from({ length: N }, (_, n) => ({ n })))
      const settings = { WORKER_QUEUE: queue, JOB_MILLIS: "30", LEASE_MILLIS: "1000", RESCUE_MILLIS: "500", ELECTION_MILLIS: "500" }
      const first = yield* spawnWorker(info.url, settings)
      yield* eventually(count(`run_log where event = 'end' and pid = ${first.pid}`), (n) => n >= 30, "60 seconds")
      first.child.kill("SIGKILL")
      yield* first.exited
      const stranded = yield* count(`redrive.job where queue = '${queue}' and state = 'running'`)
      assert.isAbove(stranded, 0, "the kill landed mid-batch")

      // A second process with nothing but the worker: it leads maintenance, rescues, and finishes.
      const second = yield* spawnWorker(info.url, settings)
      yield* eventually(count(`redrive.job where queue = '${queue}'`), (n) => n === 0, "60 seconds")
      const pids = [first.pid, second.pid]
      const done = yield* sql<{ n: number }>`
        select distinct n from run_log where event = 'end' and pid = any(${pids}) order by n`
      assert.deepStrictEqual(done.map((r) => r.n), Array.from({ length: N }, (_, n) => n))
      assert.strictEqual(yield* count(`redrive.job_dlq where queue = '${queue}'`), 0)
      assert.match(second.output(), /this process leads/)
      // Jobs ran twice only if they were in flight on the killed process.
      const twice = yield* sql<{ n: number }>`
        select n from run_log where event = 'start' and pid = any(${pids}) group by n having count(*) > 1`
      assert.isAtMost(twice.length, stranded)
    }).pipe(Effect.scoped), processTestTimeout)
})
