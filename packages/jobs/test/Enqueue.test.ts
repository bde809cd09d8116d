import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Context, Effect, Either, Queue, Schema, Tracer } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Limits from "../src/Limits.js"
import * as Notify from "../src/Notify.js"
import { listenForWakeUps } from "./notifyFixtures.js"
import { count } from "./workerFixtures.js"

const SendEmail = JobDefinition.make({
  name: "email.send",
  queue: "emails",
  priority: 3,
  payload: Schema.Struct({ to: Schema.String.pipe(Schema.pattern(/@/)), subject: Schema.String }),
  retry: { maxAttempts: 7 }
})

layer(TestDatabase.layer, { excludeTestServices: true })("enqueue", (it) => {
  it.effect("stores the job with the definition's queue, priority and attempts, and the payload verbatim", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const { id } = yield* Enqueue.one(SendEmail, { to: "a@example.com", subject: "hi" }, { tenantId })
      const [row] = yield* sql<{ queue: string; priority: number; maxAttempts: number; state: string; payload: unknown; tenantId: string }>`
        select queue, priority, max_attempts, state, payload, tenant_id from redrive.job where id = ${id}`
      assert.deepStrictEqual(row, {
        queue: "emails",
        priority: 3,
        maxAttempts: 7,
        state: "available",
        payload: { to: "a@example.com", subject: "hi" },
        tenantId
      })
    }))

  it.effect("a job enqueued without run_at is due at once: its run_at is never ahead of now()", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      // now() is fixed for a transaction: a run_at rounded to milliseconds would be ahead of it
      // about half the time, and a claim right after the enqueue would not find the job due.
      for (let i = 0; i < 20; i++) {
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* Enqueue.one(SendEmail, { to: "a@example.com", subject: `one ${i}` }, { tenantId })
          yield* Enqueue.many(SendEmail, [{ to: "b@example.com", subject: `many ${i}` }, { to: "c@example.com", subject: "x" }], { tenantId })
          // The column's default, for a job a service inserts itself.
          yield* sql`insert into redrive.job (tenant_id, queue, type) values (${tenantId}, 'emails', 'email.send')`
          const [ahead] = yield* sql<{ n: number }>`
            select count(*)::int as n from redrive.job where tenant_id = ${tenantId} and run_at > now()`
          assert.strictEqual(ahead!.n, 0, `round ${i}`)
        }))
      }
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 80)
    }))

  it.effect("a bad payload is a ParseError naming the field, and nothing is written", () =>
    Effect.gen(function*() {
      const tenantId = Factory.tenant()
      const result = yield* Effect.either(Enqueue.many(SendEmail, [
        { to: "ok@example.com", subject: "1" },
        { to: "not-an-email", subject: "2" }
      ], { tenantId }))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "ParseError")
        assert.include(result.left.message, "to")
        assert.include(result.left.message, "[1]")
      }
      const badOption = yield* Effect.flip(Enqueue.one(SendEmail, { to: "a@b.c", subject: "x" }, { tenantId, priority: 11 }))
      assert.strictEqual(badOption._tag, "Redrive/InvalidEnqueueOption")
      assert.strictEqual(badOption._tag === "Redrive/InvalidEnqueueOption" ? badOption.field : "", "priority")
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 0)
    }))

  it.effect("the reserved tenant ids are refused; a job without a tenant is unscoped (`default`)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const subject = Factory.unique("reserved")
      for (const tenantId of ["default", "*"]) {
        const refused = yield* Effect.flip(Enqueue.one(SendEmail, { to: "a@b.c", subject }, { tenantId }))
        assert.strictEqual(refused._tag, "Redrive/InvalidEnqueueOption")
        assert.strictEqual(refused._tag === "Redrive/InvalidEnqueueOption" ? refused.field : "", "tenantId")
      }
      assert.strictEqual(yield* count(`redrive.job where payload->>'subject' = '${subject}'`), 0)
      const { id } = yield* Enqueue.one(SendEmail, { to: "a@b.c", subject })
      const [row] = yield* sql<{ tenantId: string }>`select tenant_id from redrive.job where id = ${id}`
      assert.strictEqual(row!.tenantId, "default")
    }))

  it.effect("a duplicate idempotency key returns the first job while it is unfinished, and says so", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const payload = { to: "k@example.com", subject: "welcome" }
      const created = yield* Enqueue.one(SendEmail, payload, { tenantId, idempotencyKey: "welcome:42" })
      assert.isFalse(created.deduplicated)
      const first = created.id
      // The second payload is dropped: the first job keeps its own.
      const again = yield* Enqueue.one(SendEmail, { ...payload, subject: "changed" }, { tenantId, idempotencyKey: "welcome:42" })
      assert.deepStrictEqual(again, { id: first, deduplicated: true })
      const [stored] = yield* sql<{ subject: string }>`select payload->>'subject' as subject from redrive.job where id = ${first}`
      assert.strictEqual(stored!.subject, "welcome")
      const results = yield* Enqueue.many(SendEmail, [payload, payload, payload, payload], {
        tenantId,
        idempotencyKeys: ["welcome:42", "welcome:43", undefined, "welcome:43"]
      })
      // Within one batch the first payload of a key is the job, a later one is deduplicated.
      assert.deepStrictEqual(results.map((r) => r.deduplicated), [true, false, false, true])
      const batch = Enqueue.ids(results)
      assert.strictEqual(batch[0], first)
      assert.notStrictEqual(batch[1], first)
      assert.strictEqual(batch[3], batch[1])
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}' and idempotency_key like 'welcome:%'`), 2)
      // Once the first job is finished, the key is free again.
      yield* sql`update redrive.job set state = 'cancelled', completed_at = now() where id = ${first}`
      const { id: third } = yield* Enqueue.one(SendEmail, payload, { tenantId, idempotencyKey: "welcome:42" })
      assert.notStrictEqual(third, first)
      // Same key in another tenant: a different job.
      const { id: otherTenant } = yield* Enqueue.one(SendEmail, payload, {
        idempotencyKey: "welcome:43",
        tenantId: Factory.tenant()
      })
      assert.notStrictEqual(otherTenant, batch[1])
    }))

  it.effect("an enqueue in a rolled-back transaction leaves no job", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const orders = Factory.unique("orders").replaceAll("-", "_")
      yield* sql`create table ${sql(orders)} (id int primary key)`
      const failed = yield* Effect.either(sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(orders)} values (1)`
        yield* Enqueue.one(SendEmail, { to: "t@example.com", subject: "order 1" }, { tenantId })
        return yield* Effect.fail("payment declined" as const)
      })))
      assert.isTrue(Either.isLeft(failed))
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 0)
      assert.strictEqual(yield* count(orders), 0)
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(orders)} values (2)`
        yield* Enqueue.one(SendEmail, { to: "t@example.com", subject: "order 2" }, { tenantId })
      }))
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 1)
      assert.strictEqual(yield* count(orders), 1)
    }))

  it.effect("enqueue into a paused scope keeps the job waiting in state paused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = definitionIn(Factory.queue())
      yield* Factory.insertControl({ tenantId: "*", queue: Def.queue })
      const { id } = yield* Enqueue.one(Def, payload, { tenantId: Factory.tenant() })
      const [row] = yield* sql<{ state: string }>`select state from redrive.job where id = ${id}`
      assert.strictEqual(row!.state, "paused")
    }))

  it.effect("enqueue of a paused job type (or one whose circuit is probing) waits as paused; other types do not", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const queue = Factory.queue()
      const Paused = JobDefinition.make({ name: Factory.unique("paused-type"), payload: SendEmail.payload, queue })
      const Probing = JobDefinition.make({ name: Factory.unique("probing-type"), payload: SendEmail.payload, queue })
      const Other = JobDefinition.make({ name: Factory.unique("other-type"), payload: SendEmail.payload, queue })
      yield* Factory.insertControl({ tenantId: "*", queue: "*", type: Paused.name })
      yield* Factory.insertControl({ tenantId: "*", queue: "*", type: Probing.name, state: "probing" })
      const tenantId = Factory.tenant()
      const ids = [
        (yield* Enqueue.one(Paused, payload, { tenantId })).id,
        (yield* Enqueue.one(Probing, payload, { tenantId })).id,
        (yield* Enqueue.one(Other, payload, { tenantId })).id
      ]
      const rows = yield* sql<{ id: string; state: string }>`
        select id, state from redrive.job where id = any(${ids}::bigint[]) order by id`
      assert.deepStrictEqual(rows.map((r) => r.state), ["paused", "paused", "available"])
    }))

  it.effect("a bulk enqueue is one statement and returns ids in input order", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const payloads = Array.from({ length: 1000 }, (_, i) => ({ to: `u${i}@example.com`, subject: String(i) }))
      const { result, statements } = yield* recordStatements(Enqueue.many(SendEmail, payloads, { tenantId }))
      const ids = Enqueue.ids(result)
      assert.strictEqual(statements.length, 1, `expected one statement, got ${statements.length}`)
      assert.match(statements[0]!, /insert into redrive\.job/)
      assert.strictEqual(ids.length, 1000)
      const rows = yield* sql<{ id: string; subject: string }>`
        select id, payload->>'subject' as subject from redrive.job where tenant_id = ${tenantId} order by id`
      assert.deepStrictEqual(rows.map((r) => Number(r.id)), [...ids])
      assert.deepStrictEqual(rows.map((r) => r.subject), payloads.map((p) => p.subject))
    }))

  it.effect("a payload over REDRIVE_MAX_PAYLOAD_BYTES is refused with the limit named, and nothing is written", () =>
    Effect.gen(function*() {
      const limit = (yield* Limits.Current).payloadBytes
      const tenantId = Factory.tenant()
      const atLimit = payloadOfBytes(limit)
      const overLimit = payloadOfBytes(limit + 1)

      const refused = yield* refusal(Enqueue.one(SendEmail, overLimit, { tenantId }))
      assert.instanceOf(refused, Enqueue.PayloadTooLarge)
      assert.deepInclude(refused, { _tag: "Redrive/PayloadTooLarge", field: "payload", bytes: limit + 1, limit })
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 0)

      // One oversized item refuses the whole batch, naming its index.
      const small = { to: "s@example.com", subject: "small" }
      const batch = yield* refusal(Enqueue.many(SendEmail, [small, small, overLimit, small], { tenantId }))
      assert.deepInclude(batch, { _tag: "Redrive/PayloadTooLarge", field: "payloads[2]", bytes: limit + 1, limit })
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 0)

      // The limit is per payload and inclusive: a payload of exactly the limit, and a batch whose
      // payloads add up to more than the limit, are stored.
      const third = payloadOfBytes(Math.floor(limit / 3) + 10)
      yield* Enqueue.many(SendEmail, [atLimit, third, third, third], { tenantId })
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 4)
    }))

  it.effect("the payload limit counts UTF-8 bytes: 600,000 \"é\" (1.2 MB in 600,000 characters) is over 1 MiB", () =>
    Effect.gen(function*() {
      const tenantId = Factory.tenant()
      const accented = { to: "e@example.com", subject: "é".repeat(600_000) }
      const bytes = Buffer.byteLength(JSON.stringify(accented), "utf8")
      assert.isBelow(JSON.stringify(accented).length, Limits.defaults.payloadBytes)

      const refused = yield* refusal(Enqueue.one(SendEmail, accented, { tenantId }))
      assert.instanceOf(refused, Limits.PayloadTooLarge)
      assert.deepInclude(refused, { field: "payload", bytes, limit: Limits.defaults.payloadBytes })
      const inBatch = yield* refusal(Enqueue.many(SendEmail, [payload, accented], { tenantId }))
      assert.deepInclude(inBatch, { _tag: "Redrive/PayloadTooLarge", field: "payloads[1]", bytes })
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 0)
    }))

  it.effect("a batch whose payloads are each under the limit but together over REDRIVE_MAX_BATCH_BYTES writes nothing", () =>
    Effect.gen(function*() {
      const tenantId = Factory.tenant()
      const { batchBytes, payloadBytes } = Limits.defaults
      // 17 payloads of 1,000,000 bytes: each under 1 MiB, 17 MB in all, over 16 MiB.
      const item = payloadOfBytes(1_000_000)
      assert.isBelow(1_000_000, payloadBytes)
      const items = Array.from({ length: 17 }, () => item)
      const total = Buffer.byteLength(JSON.stringify(items), "utf8")
      assert.isAbove(total, batchBytes)

      const refused = yield* refusal(Enqueue.many(SendEmail, items, { tenantId }))
      assert.deepInclude(refused, { _tag: "Redrive/PayloadTooLarge", field: "payloads", bytes: total, limit: batchBytes })
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 0)

      // Limits provided by a layer replace the environment's: the same rule at a smaller scale.
      const small = [payloadOfBytes(300), payloadOfBytes(300), payloadOfBytes(300)]
      const scaled = yield* refusal(
        Enqueue.many(SendEmail, small, { tenantId }).pipe(Effect.provide(Limits.layer({ payloadBytes: 400, batchBytes: 800 })))
      )
      assert.deepInclude(scaled, { _tag: "Redrive/PayloadTooLarge", field: "payloads", limit: 800 })
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 0)
      yield* Enqueue.many(SendEmail, small.slice(0, 2), { tenantId }).pipe(
        Effect.provide(Limits.layer({ payloadBytes: 400, batchBytes: 800 }))
      )
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 2)
    }))

  it.scoped("enqueueing into a running scope wakes the queue's workers once per statement", () =>
    Effect.gen(function*() {
      const received = yield* listenForWakeUps
      const tenantId = Factory.tenant()
      const Def = definitionIn(Factory.queue())
      yield* Enqueue.many(Def, [payload, payload, payload], { tenantId })
      yield* Enqueue.one(Def, payload, { tenantId })
      const wakeUps = yield* wakeUpsBeforeMarker(received)
      assert.deepStrictEqual(wakeUps.filter((q) => q === Def.queue), [Def.queue, Def.queue])
    }))

  it.scoped("enqueueing into a paused scope wakes nobody", () =>
    Effect.gen(function*() {
      const received = yield* listenForWakeUps
      const pausedQueue = definitionIn(Factory.queue())
      const pausedTenant = definitionIn(Factory.queue())
      const tenantId = Factory.tenant()
      yield* Factory.insertControl({ tenantId, queue: pausedQueue.queue })
      yield* Factory.insertControl({ tenantId, queue: "*" })
      yield* Enqueue.one(pausedQueue, payload, { tenantId })
      yield* Enqueue.one(pausedTenant, payload, { tenantId })
      // The same queues of another tenant are running: they are woken.
      yield* Enqueue.one(pausedTenant, payload, { tenantId: Factory.tenant() })
      const wakeUps = yield* wakeUpsBeforeMarker(received)
      assert.deepStrictEqual(
        wakeUps.filter((q) => q === pausedQueue.queue || q === pausedTenant.queue),
        [pausedTenant.queue]
      )
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}' and state = 'paused'`), 2)
    }))

  it.scoped("an enqueue in a transaction wakes the workers at commit; a rolled-back one never does", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const received = yield* listenForWakeUps
      const tenantId = Factory.tenant()
      const committed = definitionIn(Factory.queue())
      const rolledBack = definitionIn(Factory.queue())
      const mine = (wakeUps: ReadonlyArray<string>) =>
        wakeUps.filter((q) => q === committed.queue || q === rolledBack.queue)

      yield* sql.withTransaction(Effect.gen(function*() {
        yield* Enqueue.one(committed, payload, { tenantId })
        // A wake-up now would send workers to a job they cannot see yet.
        assert.deepStrictEqual(mine(yield* wakeUpsBeforeMarker(received)), [])
      }))
      assert.deepStrictEqual(mine(yield* wakeUpsBeforeMarker(received)), [committed.queue])

      const failed = yield* Effect.either(sql.withTransaction(Effect.gen(function*() {
        yield* Enqueue.one(rolledBack, payload, { tenantId })
        assert.deepStrictEqual(mine(yield* wakeUpsBeforeMarker(received)), [])
        return yield* Effect.fail("payment declined" as const)
      })))
      assert.isTrue(Either.isLeft(failed))
      assert.deepStrictEqual(mine(yield* wakeUpsBeforeMarker(received)), [])
      assert.strictEqual(yield* count(`redrive.job where tenant_id = '${tenantId}'`), 1)
    }))
})

const payload = { to: "n@example.com", subject: "hello" }

const definitionIn = (queue: string) =>
  JobDefinition.make({
    name: "email.send",
    queue,
    payload: Schema.Struct({ to: Schema.String, subject: Schema.String })
  })

/** The error `effect` fails with; a success fails the test, naming what came back. */
const refusal = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.either(effect),
    Either.match({
      onLeft: Effect.succeed,
      onRight: (a) => Effect.dieMessage(`expected a refusal, but it succeeded with ${JSON.stringify(a)}`)
    })
  )

/** A SendEmail payload whose JSON is exactly `bytes` bytes long. */
const payloadOfBytes = (bytes: number) => {
  const empty = { to: "big@example.com", subject: "" }
  return { ...empty, subject: "x".repeat(bytes - Buffer.byteLength(JSON.stringify(empty))) }
}

/**
 * The wake-ups delivered before a marker NOTIFY that is sent now, outside any transaction of the
 * caller: Postgres delivers notifications in commit order, so a wake-up already committed
 * arrives before the marker, and one that is not (or never will be) does not.
 */
const wakeUpsBeforeMarker = (received: Queue.Queue<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const marker = Factory.unique("marker")
    yield* sql`select pg_notify(${Notify.channel}, ${marker})`.pipe(
      Effect.mapInputContext((context: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(context))
    )
    const seen: Array<string> = []
    for (;;) {
      const next = yield* Queue.take(received).pipe(Effect.timeoutFail({
        duration: "10 seconds",
        onTimeout: () => new Error(`marker ${marker} not received; got ${seen.join(", ")}`)
      }))
      if (next === marker) return seen
      if (next !== "probe") seen.push(next)
    }
  })

/** Runs `effect` with a tracer that records the SQL text of every statement it sends. */
const recordStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const native = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = native.span(name, parent, context, links, startTime, kind, options)
        spans.push(span)
        return span
      },
      context: (f, fiber) => native.context(f, fiber)
    })
    const result = yield* Effect.withTracer(effect, recording)
    // @effect/sql opens one `sql.execute` span per statement, with the statement's text.
    const statements = spans
      .filter((s) => s.name === "sql.execute")
      .map((s) => String(s.attributes.get("db.query.text")))
    return { result, statements }
  })
