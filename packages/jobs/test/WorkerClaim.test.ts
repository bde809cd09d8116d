/**
 * What the claim guarantees: a job is leased by one worker at a time, a row locked elsewhere
 * does not hold up the rest of the queue, the most urgent job goes first, and controlled scopes
 * (draining, drained, and the `*` wildcards) are not claimed while the others run.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import type { Control } from "@redrive/database"
import { Factory as F, TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Fiber, Layer, Option, Ref, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import type { JobContext } from "../src/JobContext.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Worker from "../src/Worker.js"
import { jobRow, jobsIn } from "./jobRows.js"
import { eventually, fastWorker, withWorker } from "./workerFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })

interface Start {
  readonly jobId: number
  readonly workerId: string
  /** Another attempt of the same job was running when this one started. */
  readonly overlapping: boolean
}

/**
 * A control row for a scope. Factory.insertControl cannot write `drained` (the row needs its
 * drain_completed_at), so this test file writes its own.
 */
interface Scope {
  readonly a: string
  readonly b: string
  readonly q1: string
  readonly q2: string
  /** The job type of the four scopes' jobs. */
  readonly type: string
}

interface ControlRow {
  readonly tenantId: string
  readonly queue: string
  readonly type?: string
  readonly state: Control.ControlState
}

const insertControl = (scope: ControlRow) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.control (tenant_id, queue, type, state, initiated_by, drain_completed_at)
        values (${scope.tenantId}, ${scope.queue}, ${scope.type ?? "*"}, ${scope.state}, 'test',
                ${scope.state === "drained" ? sql`now()` : sql`null`})`.pipe(Effect.asVoid))

const recordScope = (ran: Ref.Ref<ReadonlyArray<string>>, ctx: JobContext) =>
  Ref.update(ran, (r) => [...r, `${ctx.tenantId}/${ctx.queue}`])

/** Four scopes, two tenants by two queues, with one waiting job each. */
const fourScopes = Effect.gen(function*() {
  const [a, b] = [F.tenant(), F.tenant()]
  const [q1, q2] = [F.queue(), F.queue()]
  const Def = JobDefinition.make({ name: F.unique("controlled"), payload: Payload, queue: q1 })
  const scopes = [[a, q1], [a, q2], [b, q1], [b, q2]] as const
  const ids = new Map<string, number>()
  for (const [tenantId, queue] of scopes) {
    const job = yield* F.insertJob({ tenantId, queue, type: Def.name, payload: { n: 1 } })
    ids.set(`${tenantId}/${queue}`, job.id)
  }
  return { a, b, q1, q2, type: Def.name, Def, ids }
})

/**
 * Runs a worker over the four scopes with `control` in place: the uncontrolled scopes' jobs
 * run; after a few more polls the controlled ones are still waiting, never attempted.
 */
const claimsUnder = (
  control: (s: Scope) => ControlRow,
  blocked: (s: Scope) => ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    const s = yield* fourScopes
    yield* insertControl(control(s))
    const held = new Set(blocked(s))
    const open = [...s.ids.keys()].filter((k) => !held.has(k))
    const ran = yield* Ref.make<ReadonlyArray<string>>([])
    yield* withWorker(
      {
        handlers: [JobDefinition.handle(s.Def, (_, ctx) => recordScope(ran, ctx))],
        queues: [s.q1, s.q2]
      },
      Effect.gen(function*() {
        yield* eventually(Ref.get(ran), (r) => r.length >= open.length)
        // Ten more polls: a controlled job that is claimable would have been claimed by now.
        yield* Effect.sleep("500 millis")
      })
    )
    assert.deepStrictEqual([...(yield* Ref.get(ran))].sort(), [...open].sort(), "only the uncontrolled scopes ran")
    for (const key of held) {
      const row = Option.getOrThrow(yield* jobRow(s.ids.get(key)!))
      assert.strictEqual(row.state, "available", `${key} is still waiting`)
      assert.strictEqual(row.attempt, 0, `${key} was never attempted`)
    }
  })

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "90 seconds" })("worker claims", (it) => {
  it.effect("two workers racing on one queue run each job exactly once, never twice at once", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "race.job", payload: Payload, queue: F.queue() })
      const ids = Enqueue.ids(yield* Enqueue.many(Def, Array.from({ length: 300 }, (_, n) => ({ n })), { tenantId: F.tenant() }))
      const starts = yield* Ref.make<ReadonlyArray<Start>>([])
      const running = new Set<number>()
      const handler = JobDefinition.handle(Def, (_, ctx) =>
        Effect.gen(function*() {
          const overlapping = running.has(ctx.jobId)
          running.add(ctx.jobId)
          yield* Ref.update(starts, (s) => [...s, { jobId: ctx.jobId, workerId: ctx.workerId, overlapping }])
          yield* Effect.sleep("3 millis")
        }).pipe(Effect.ensuring(Effect.sync(() => running.delete(ctx.jobId)))))
      // Small claims, each worker claiming again as places free: both claim side by side, from the
      // same head of the queue.
      const worker = (workerId: string) =>
        Worker.layer({ ...fastWorker, handlers: [handler], workerId, batchSize: 10, concurrency: 20 })
      const [one, two] = [F.unique("worker-a"), F.unique("worker-b")]
      yield* Effect.scoped(Effect.gen(function*() {
        const scope = yield* Effect.scope
        yield* Effect.all([Layer.buildWithScope(worker(one), scope), Layer.buildWithScope(worker(two), scope)], {
          concurrency: "unbounded"
        })
        yield* eventually(jobsIn([Def.queue]), (n) => n === 0, "30 seconds")
      }))
      const all = yield* Ref.get(starts)
      const runsOf = new Map<number, number>()
      for (const s of all) runsOf.set(s.jobId, (runsOf.get(s.jobId) ?? 0) + 1)
      const twice = [...runsOf].filter(([, n]) => n > 1).map(([id]) => id)
      assert.deepStrictEqual(all.filter((s) => s.overlapping).map((s) => s.jobId), [], "no job ran twice at once")
      assert.deepStrictEqual(twice, [], "no job ran twice")
      assert.deepStrictEqual([...runsOf.keys()].sort((x, y) => x - y), [...ids].sort((x, y) => x - y), "every job ran")
      const took = (workerId: string) => all.some((s) => s.workerId === workerId)
      assert.isTrue(took(one) && took(two), "both workers took part")
    }))

  it.effect("a job row locked by another transaction does not stop the worker from running the other jobs", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = F.tenant()
      const Def = JobDefinition.make({ name: "lock.job", payload: Payload, queue: F.queue() })
      // The locked job is the most urgent: a claim that waits for locks would wait on it first.
      const { id: lockedId } = yield* Enqueue.one(Def, { n: 0 }, { tenantId, priority: 1 })
      const others = Enqueue.ids(yield* Enqueue.many(Def, Array.from({ length: 5 }, (_, i) => ({ n: i + 1 })), { tenantId }))
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* sql.withTransaction(
        sql`select id from redrive.job where id = ${lockedId} for update`.pipe(
          Effect.zipRight(Deferred.succeed(locked, undefined)),
          Effect.zipRight(Deferred.await(release))
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const ran = yield* Ref.make<ReadonlyArray<number>>([])
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, (p) => Ref.update(ran, (r) => [...r, p.n]))] },
        Effect.gen(function*() {
          yield* eventually(Ref.get(ran), (r) => r.length === others.length, "10 seconds").pipe(
            Effect.orElseFail(() => new Error("the other jobs did not run within 10 s: the claim waited for the lock"))
          )
          const waiting = Option.getOrThrow(yield* jobRow(lockedId))
          assert.strictEqual(waiting.state, "available", "the locked job waits for its lock")
          assert.strictEqual(waiting.attempt, 0)
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(holder)
          // Once the lock is gone the job is claimed like any other.
          yield* eventually(jobsIn([Def.queue]), (n) => n === 0)
        }).pipe(Effect.ensuring(Deferred.succeed(release, undefined)))
      )
      assert.deepStrictEqual([...(yield* Ref.get(ran))].sort(), [0, 1, 2, 3, 4, 5])
    }))

  it.effect("within a tenant the most urgent job runs first, then the earliest due, then the oldest", () =>
    Effect.gen(function*() {
      const tenantId = F.tenant()
      const Def = JobDefinition.make({ name: "prio.job", payload: Payload, queue: F.queue() })
      const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000)
      const [threeAgo, twoAgo, oneAgo] = [minutesAgo(3), minutesAgo(2), minutesAgo(1)]
      const jobs = [
        { n: 1, priority: 10, runAt: threeAgo },
        { n: 2, priority: 5, runAt: oneAgo },
        { n: 3, priority: 1, runAt: oneAgo },
        { n: 4, priority: 5, runAt: twoAgo },
        { n: 5, priority: 1, runAt: oneAgo },
        { n: 6, priority: 10, runAt: oneAgo }
      ]
      // One at a time, in this order: ids grow with it, so 3 is older than 5.
      for (const { n, priority, runAt } of jobs) yield* Enqueue.one(Def, { n }, { tenantId, priority, runAt })
      const order = yield* Ref.make<ReadonlyArray<number>>([])
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, (p) => Ref.update(order, (o) => [...o, p.n]))],
          batchSize: 1,
          concurrency: 1
        },
        eventually(jobsIn([Def.queue]), (n) => n === 0)
      )
      assert.deepStrictEqual(yield* Ref.get(order), [3, 5, 4, 2, 1, 6])
    }))

  it.effect("a draining scope is not claimed while its tenant's other queues and other tenants run", () =>
    claimsUnder(({ a, q1 }) => ({ tenantId: a, queue: q1, state: "draining" }), ({ a, q1 }) => [`${a}/${q1}`]))

  it.effect("a drained scope is not claimed while its tenant's other queues and other tenants run", () =>
    claimsUnder(({ a, q1 }) => ({ tenantId: a, queue: q1, state: "drained" }), ({ a, q1 }) => [`${a}/${q1}`]))

  it.effect("a control of a queue for every tenant ('*', queue) stops that queue only", () =>
    claimsUnder(
      ({ q1 }) => ({ tenantId: "*", queue: q1, state: "paused" }),
      ({ a, b, q1 }) => [`${a}/${q1}`, `${b}/${q1}`]
    ))

  it.effect("a control of a tenant on every queue (tenant, '*') stops that tenant only", () =>
    claimsUnder(
      ({ a }) => ({ tenantId: a, queue: "*", state: "draining" }),
      ({ a, q1, q2 }) => [`${a}/${q1}`, `${a}/${q2}`]
    ))

  it.effect("a paused job type is not claimed, in any scope, while the other types of its queues run", () =>
    Effect.gen(function*() {
      const [a, b, q] = [F.tenant(), F.tenant(), F.queue()]
      const Paused = JobDefinition.make({ name: F.unique("typed-paused"), payload: Payload, queue: q })
      const Running = JobDefinition.make({ name: F.unique("typed-running"), payload: Payload, queue: q })
      // Waiting before the pause, so 'available': the claim itself must leave them.
      const held = yield* Effect.forEach([a, b], (tenantId) =>
        F.insertJob({ tenantId, queue: q, type: Paused.name, payload: { n: 1 } }))
      const open = yield* Effect.forEach([a, b], (tenantId) =>
        F.insertJob({ tenantId, queue: q, type: Running.name, payload: { n: 2 } }))
      yield* F.insertControl({ tenantId: "*", queue: "*", type: Paused.name })
      const ran = yield* Ref.make<ReadonlyArray<number>>([])
      const record = (_: unknown, ctx: JobContext) => Ref.update(ran, (r) => [...r, ctx.jobId])
      yield* withWorker(
        { handlers: [JobDefinition.handle(Paused, record), JobDefinition.handle(Running, record)] },
        Effect.gen(function*() {
          yield* eventually(Ref.get(ran), (r) => r.length >= open.length)
          yield* Effect.sleep("500 millis")
        })
      )
      assert.sameMembers([...(yield* Ref.get(ran))], open.map((j) => j.id), "only the running type ran")
      for (const job of held) {
        const row = Option.getOrThrow(yield* jobRow(job.id))
        assert.deepStrictEqual([row.state, row.attempt], ["available", 0])
      }
    }))

  it.effect("a type paused for one tenant on every queue is claimed for the other tenant", () =>
    claimsUnder(
      ({ a, type }) => ({ tenantId: a, queue: "*", type, state: "paused" }),
      ({ a, q1, q2 }) => [`${a}/${q1}`, `${a}/${q2}`]
    ))

  it.effect("a type whose circuit is half-open (its control row 'probing') is claimed: its probes run", () =>
    claimsUnder(({ type }) => ({ tenantId: "*", queue: "*", type, state: "probing" }), () => []))

  it.effect("a control of everything ('*', '*') stops every claim until it is lifted", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const s = yield* fourScopes
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      // The one control that reaches other tests' scopes: lifted whatever happens.
      const lift = sql`delete from redrive.control where tenant_id = '*' and queue = '*'`.pipe(Effect.orDie)
      yield* insertControl({ tenantId: "*", queue: "*", state: "paused" })
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(s.Def, (_, ctx) => recordScope(ran, ctx))],
          queues: [s.q1, s.q2]
        },
        Effect.gen(function*() {
          yield* Effect.sleep("600 millis")
          assert.deepStrictEqual(yield* Ref.get(ran), [], "nothing ran under the global control")
          yield* lift
          yield* eventually(Ref.get(ran), (r) => r.length === 4)
        }).pipe(Effect.ensuring(lift))
      )
      assert.deepStrictEqual([...(yield* Ref.get(ran))].sort(), [...s.ids.keys()].sort())
    }))
  it.effect("the claim commits without waiting for its WAL flush, in its own transaction only", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = JobDefinition.make({ name: F.unique("async.claim"), payload: Payload, queue: F.queue() })
      const { id } = yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
      // The server's own setting (off on the embedded test server, on here in CI).
      const [before] = yield* sql<{ value: string }>`select current_setting('synchronous_commit') as value`
      // Inside one transaction (and rolled back) to read the setting the claim left for its commit;
      // the transaction starts with it on, whatever the server's default.
      const seen = yield* Ref.make<{ readonly claimed: ReadonlyArray<number>; readonly during: string }>({ claimed: [], during: "" })
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`set local synchronous_commit = on`
        const rows = yield* sql<{ id: string }>`
          select id from redrive.claim_batch(${[Def.queue]}::text[], ${[Def.name]}::text[], null, '', 10, 'w', 30000)`
        const [setting] = yield* sql<{ value: string }>`select current_setting('synchronous_commit') as value`
        yield* Ref.set(seen, { claimed: rows.map((r) => Number(r.id)), during: setting!.value })
        return yield* Effect.fail("rollback" as const)
      })).pipe(Effect.flip)
      const { claimed, during } = yield* Ref.get(seen)
      assert.deepStrictEqual(claimed, [id])
      assert.strictEqual(during, "off")
      // The next transaction, on any connection, commits as the server says again.
      const [after] = yield* sql<{ value: string }>`select current_setting('synchronous_commit') as value`
      assert.strictEqual(after!.value, before!.value)
      assert.strictEqual(Option.getOrThrow(yield* jobRow(id)).state, "available", "the rolled-back claim left the job waiting")
    }))
})
