import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Redacted } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Rescuer from "../src/Rescuer.js"
import { CrashJob } from "./fixtures/crashJob.js"
import { count, eventually, withWorker } from "./workerFixtures.js"
import { processTestTimeout } from "./processFixtures.js"

const childScript = fileURLToPath(new URL("./fixtures/crashWorker.ts", import.meta.url))
const N = 300

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "90 seconds" })("crash safety", (it) => {
  it.effect("a worker process killed with SIGKILL mid-batch loses no job", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const info = yield* TestDatabase.TestDatabaseInfo
      yield* sql`create table crash_log (n int not null, pid int not null)`
      yield* Enqueue.many(CrashJob, Array.from({ length: N }, (_, n) => ({ n })))

      const child = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", childScript], {
        env: { ...process.env, CRASH_DATABASE_URL: Redacted.value(info.url) },
        stdio: "ignore"
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      // Kill it while it is in the middle of its work: some jobs done, some running.
      yield* eventually(count("crash_log"), (n) => n >= 60, "60 seconds")
      child.kill("SIGKILL")
      yield* Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
      })
      const runningAfterKill = yield* count(`redrive.job where queue = 'q-crash' and state = 'running'`)
      assert.isAbove(runningAfterKill, 0, "the kill landed mid-batch, with leased jobs")

      // The child's leases expire; the rescuer puts its jobs back and a new worker finishes them.
      // (Counted again after the wait: a settle the child sent just before the kill may still commit.)
      yield* Effect.sleep("1100 millis")
      const stranded = yield* count(`redrive.job where queue = 'q-crash' and state = 'running'`)
      assert.isAbove(stranded, 0)
      const rescued = yield* Rescuer.rescueOnce()
      assert.isAtLeast(rescued.rescued, stranded)
      assert.strictEqual(yield* count(`redrive.job where queue = 'q-crash' and state = 'running'`), 0)
      assert.strictEqual(
        yield* count(`redrive.job where queue = 'q-crash' and error_history @> '[{"kind":"rescued"}]'`),
        stranded
      )
      yield* withWorker(
        { handlers: [JobDefinition.handle(CrashJob, (p) => sql`insert into crash_log (n, pid) values (${p.n}, 0)`)] },
        eventually(count(`redrive.job where queue = 'q-crash'`), (n) => n === 0, "60 seconds")
      )
      const seen = yield* sql<{ n: number }>`select distinct n from crash_log order by n`
      assert.deepStrictEqual(seen.map((r) => r.n), Array.from({ length: N }, (_, n) => n))
      assert.strictEqual(yield* count("redrive.job_dlq where queue = 'q-crash'"), 0)
    }).pipe(Effect.scoped), processTestTimeout)

  it.effect("an expired lease is rescued with a `rescued` entry, or dead-lettered when attempts are used up", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ id: string; maxAttempts: number }>`
        insert into redrive.job (queue, type, state, attempt, max_attempts, locked_by, locked_until)
        values ('q-rescue', 'r', 'running', 1, 3, 'dead-worker', now() - interval '1 second'),
               ('q-rescue', 'r', 'running', 3, 3, 'dead-worker', now() - interval '1 second'),
               ('q-rescue', 'r', 'running', 1, 3, 'live-worker', now() + interval '1 minute')
        returning id, max_attempts`
      const result = yield* Rescuer.rescueOnce()
      assert.deepStrictEqual(result, { rescued: 1, deadLettered: 1, blocked: 0 })
      const [back] = yield* sql<{ state: string; attempt: number; history: ReadonlyArray<Record<string, unknown>> }>`
        select state, attempt, error_history as history from redrive.job where id = ${rows[0]!.id}`
      assert.strictEqual(back!.state, "available")
      assert.strictEqual(back!.attempt, 1)
      assert.strictEqual(back!.history[0]!["kind"], "rescued")
      assert.strictEqual(back!.history[0]!["workerId"], "dead-worker")
      const [dead] = yield* sql<{ errorClass: string; attempts: number }>`
        select error_class, attempts from redrive.job_dlq where job_id = ${rows[1]!.id}`
      assert.deepStrictEqual(dead, { errorClass: "timeout", attempts: 3 })
      const [live] = yield* sql<{ state: string }>`select state from redrive.job where id = ${rows[2]!.id}`
      assert.strictEqual(live!.state, "running")
    }))
})
