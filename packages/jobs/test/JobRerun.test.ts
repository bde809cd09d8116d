/**
 * JobCommands.rerun: a completed (kept) or cancelled job runs again as a new job with its lineage,
 * once per request key; a job that has not finished is refused; a tenant reruns only its jobs.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory, Ids, Tenant } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Fiber, Layer, Ref, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import { JobCommands } from "../src/JobCommands.js"
import * as JobCommandsModule from "../src/JobCommands.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobRegistry from "../src/JobRegistry.js"
import { count, eventually, withWorker } from "./workerFixtures.js"

const Email = JobDefinition.make({
  name: Factory.unique("rerun.email"),
  queue: Factory.queue(),
  payload: Schema.Struct({ to: Schema.String })
})

const TestLayer = JobCommandsModule.layer().pipe(
  Layer.provideMerge(JobRegistry.layer([Email])),
  Layer.provideMerge(TestDatabase.layer)
)

const decodeHistory = Schema.decodeUnknownSync(ErrorHistory.ErrorHistory)

/** One job of Email's type in `state` (a finished one with its completion time). */
const seedJob = (state: "available" | "paused" | "running" | "completed" | "cancelled", tenant: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: string }>`
      insert into redrive.job (tenant_id, queue, type, payload, state, attempt, locked_by, locked_until, completed_at,
                               error_history)
      values (${tenant}, ${Email.queue}, ${Email.name}, '{"to":"a@example.com"}'::jsonb, ${state}, 2,
              case when ${state} = 'running' then 'worker-1' end,
              case when ${state} = 'running' then now() + interval '1 minute' end,
              case when ${state} in ('completed', 'cancelled') then now() end,
              ${JSON.stringify(yield* Schema.encode(ErrorHistory.ErrorHistory)(Factory.history3))}::jsonb)
      returning id`
    return Ids.JobId.make(Number(row!.id))
  })

interface NewJob {
  readonly state: string
  readonly attempt: number
  readonly rerunOf: string | null
  readonly replayOf: string | null
  readonly payload: unknown
  readonly errorHistory: unknown
}

const readNew = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<NewJob>`select state, attempt, rerun_of, replay_of, payload, error_history from redrive.job where id = ${id}`)

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("JobCommands.rerun", (it) => {
  it.effect("a completed and a cancelled job each become one new available job with lineage and a replayed entry", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const tenant = Factory.tenant()
      for (const state of ["completed", "cancelled"] as const) {
        const source = yield* seedJob(state, tenant)
        const result = yield* commands.rerun({ id: String(source), by: "alice", requestId: `r-${state}-${source}` })
        assert.isTrue(result.created)
        assert.strictEqual(result.rerunOf, source)
        assert.notStrictEqual(result.jobId, source)
        const [job] = yield* readNew(result.jobId)
        assert.strictEqual(job!.state, "available")
        assert.strictEqual(job!.attempt, 0)
        assert.strictEqual(job!.rerunOf, String(source))
        assert.isNull(job!.replayOf)
        assert.deepStrictEqual(job!.payload, { to: "a@example.com" })
        const history = decodeHistory(job!.errorHistory)
        assert.strictEqual(history.length, Factory.history3.length + 1)
        const last = history.at(-1)!
        assert.strictEqual(last.kind, "replayed")
        if (last.kind === "dropped") return
        assert.strictEqual(last.by, "alice")
        assert.strictEqual(last.errorClass, state)
        assert.strictEqual(last.message, `rerun of job ${source} by alice`)
        // The source is left as it was.
        const [kept] = yield* readNew(source)
        assert.strictEqual(kept!.state, state)
      }
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenant}' and rerun_of is not null`), 2)
    }))

  it.effect("the same request id returns the same job; another id reruns again; a key names one job", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const tenant = Factory.tenant()
      const source = yield* seedJob("completed", tenant)
      const key = Factory.unique("key")
      const first = yield* commands.rerun({ id: source, by: "alice", requestId: key })
      const second = yield* commands.rerun({ id: String(source), by: "bob", requestId: key })
      assert.deepStrictEqual(second, { jobId: first.jobId, rerunOf: source, created: false })
      // Also once the rerun job has run and is gone.
      const sql = yield* SqlClient.SqlClient
      yield* sql`delete from redrive.job where id = ${first.jobId}`
      const third = yield* commands.rerun({ id: source, by: "alice", requestId: key })
      assert.deepStrictEqual(third, { jobId: first.jobId, rerunOf: source, created: false })
      assert.strictEqual(yield* count(`redrive.job where rerun_of = ${source}`), 0)

      const other = yield* commands.rerun({ id: source, by: "alice", requestId: Factory.unique("key") })
      assert.isTrue(other.created)
      assert.notStrictEqual(other.jobId, first.jobId)

      const elsewhere = yield* seedJob("cancelled", tenant)
      const conflict = yield* Effect.flip(commands.rerun({ id: elsewhere, by: "alice", requestId: key }))
      assert.include(conflict, { _tag: "Redrive/RerunKeyConflict", requestId: key, usedFor: source })
      assert.strictEqual(yield* count(`redrive.job where rerun_of = ${elsewhere}`), 0)
    }))

  it.effect("concurrent calls with one request id create one job", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const source = yield* seedJob("completed", Factory.tenant())
      const key = Factory.unique("key")
      const results = yield* Effect.all(
        Array.from({ length: 6 }, () => commands.rerun({ id: source, by: "alice", requestId: key })),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(new Set(results.map((r) => r.jobId)).size, 1)
      assert.strictEqual(results.filter((r) => r.created).length, 1)
      assert.strictEqual(yield* count(`redrive.job where rerun_of = ${source}`), 1)
    }))

  it.effect("two calls that both waited for the job's row lock: the second meets the first's key and returns its job", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const commands = yield* JobCommands
      const source = yield* seedJob("completed", Factory.tenant())
      const key = Factory.unique("key")
      const release = yield* Deferred.make<void>()
      const locked = yield* Deferred.make<void>()
      // Another transaction holds the job's row, so both calls start (take their snapshots) first.
      const holder = yield* sql.withTransaction(
        sql`select id from redrive.job where id = ${source} for update`.pipe(
          Effect.zipRight(Deferred.succeed(locked, undefined)),
          Effect.zipRight(Deferred.await(release))
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const calls = yield* Effect.all(
        [1, 2].map(() => commands.rerun({ id: source, by: "alice", requestId: key })),
        { concurrency: "unbounded" }
      ).pipe(Effect.fork)
      yield* eventually(
        Effect.map(
          sql<{ n: string }>`select count(*) as n from pg_stat_activity
                             where datname = current_database() and wait_event_type = 'Lock' and query like '%redrive.job_rerun%'`,
          (rows) => Number(rows[0]!.n)
        ),
        (n) => n >= 2
      )
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const results = yield* Fiber.join(calls)
      assert.strictEqual(results[0]!.jobId, results[1]!.jobId)
      assert.deepStrictEqual(results.map((r) => r.created).sort(), [false, true])
      assert.strictEqual(yield* count(`redrive.job where rerun_of = ${source}`), 1)
    }))

  it.effect("a job that has not finished is refused with its state; bad input names its field", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const tenant = Factory.tenant()
      for (const state of ["available", "paused", "running"] as const) {
        const id = yield* seedJob(state, tenant)
        const error = yield* Effect.flip(commands.rerun({ id, by: "alice", requestId: Factory.unique("key") }))
        assert.include(error, { _tag: "Redrive/JobNotFinished", id, state })
      }
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenant}' and rerun_of is not null`), 0)
      assert.strictEqual(yield* count(`redrive.job_rerun where tenant_id = '${tenant}'`), 0)

      const missing = yield* Effect.flip(commands.rerun({ id: 987_654_321, by: "alice", requestId: "k" }))
      assert.strictEqual(missing._tag, "Redrive/JobNotFound")
      const badId = yield* Effect.flip(commands.rerun({ id: "three", by: "alice", requestId: "k" }))
      assert.include(badId, { _tag: "Redrive/InvalidInput", field: "id" })
      const source = yield* seedJob("completed", tenant)
      const badKey = yield* Effect.flip(commands.rerun({ id: source, by: "alice", requestId: "" }))
      assert.include(badKey, { _tag: "Redrive/InvalidInput", field: "requestId" })
      const badBy = yield* Effect.flip(commands.rerun({ id: source, by: "", requestId: "k" }))
      assert.include(badBy, { _tag: "Redrive/InvalidInput", field: "by" })
      const badPayload = yield* Effect.flip(commands.rerun({ id: source, by: "a", requestId: "k", payload: { to: 3 } }))
      assert.include(badPayload, { _tag: "Redrive/InvalidPayload", field: "to" })
      assert.strictEqual(yield* count(`redrive.job where rerun_of = ${source}`), 0)
    }))

  it.effect("inside a tenant block, a tenant reruns its own jobs and another tenant's job is not found", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const a = Factory.tenant()
      const b = Factory.tenant()
      const source = yield* seedJob("completed", a)
      const key = Factory.unique("key")
      const asB = yield* Effect.flip(Tenant.withTenant(b, commands.rerun({ id: source, by: "mallory", requestId: key })))
      assert.strictEqual(asB._tag, "Redrive/JobNotFound")
      const asBEdited = yield* Effect.flip(
        Tenant.withTenant(b, commands.rerun({ id: source, by: "mallory", requestId: key, payload: { to: "m@evil.test" } }))
      )
      assert.strictEqual(asBEdited._tag, "Redrive/JobNotFound")
      assert.strictEqual(yield* count(`redrive.job where rerun_of = ${source}`), 0)

      const asA = yield* Tenant.withTenant(a, commands.rerun({ id: source, by: "alice", requestId: key }))
      assert.isTrue(asA.created)
      const again = yield* Tenant.withTenant(a, commands.rerun({ id: source, by: "alice", requestId: key }))
      assert.deepStrictEqual(again, { ...asA, created: false })
      // Once the finished job itself is pruned, its key still answers a retried call of its tenant.
      const sql = yield* SqlClient.SqlClient
      yield* sql`delete from redrive.job where id = ${source}`
      const afterPrune = yield* Tenant.withTenant(a, commands.rerun({ id: source, by: "alice", requestId: key }))
      assert.deepStrictEqual(afterPrune, { ...asA, created: false })
      const otherAfterPrune = yield* Effect.flip(
        Tenant.withTenant(b, commands.rerun({ id: source, by: "mallory", requestId: key }))
      )
      assert.strictEqual(otherAfterPrune._tag, "Redrive/JobNotFound")
      const [job] = yield* readNew(asA.jobId)
      assert.strictEqual(job!.rerunOf, String(source))
    }))

  it.effect("a rerun job runs on a worker: a completed job's handler runs again, with an edited payload", () =>
    Effect.gen(function*() {
      const commands = yield* JobCommands
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const handler = JobDefinition.handle(Email, (payload) => Ref.update(seen, (all) => [...all, payload.to]))
      const tenantId = Factory.tenant()
      const { id } = yield* Enqueue.one(Email, { to: "first@example.com" }, { tenantId })
      const completed = `redrive.job where id = ${id} and state = 'completed'`
      yield* withWorker(
        // Only this tenant's jobs: other tests leave waiting jobs of the same type.
        { handlers: [handler], tenants: [tenantId], keepCompleted: true, maintenance: false },
        Effect.gen(function*() {
          yield* eventually(count(completed), (n) => n === 1)
          const rerun = yield* commands.rerun({
            id,
            by: "alice",
            requestId: Factory.unique("key"),
            payload: { to: "second@example.com" }
          })
          yield* eventually(count(`redrive.job where id = ${rerun.jobId} and state = 'completed'`), (n) => n === 1)
        })
      )
      assert.deepStrictEqual(yield* Ref.get(seen), ["first@example.com", "second@example.com"])
    }))
})
