import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Either, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
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
      const id = yield* Enqueue.one(SendEmail, { to: "a@example.com", subject: "hi" }, { tenantId: "acme" })
      const [row] = yield* sql<{ queue: string; priority: number; maxAttempts: number; state: string; payload: unknown; tenantId: string }>`
        select queue, priority, max_attempts, state, payload, tenant_id from redrive.job where id = ${id}`
      assert.deepStrictEqual(row, {
        queue: "emails",
        priority: 3,
        maxAttempts: 7,
        state: "available",
        payload: { to: "a@example.com", subject: "hi" },
        tenantId: "acme"
      })
    }))

  it.effect("a bad payload is a ParseError naming the field, and nothing is written", () =>
    Effect.gen(function*() {
      const before = yield* count("redrive.job")
      const result = yield* Effect.either(Enqueue.many(SendEmail, [
        { to: "ok@example.com", subject: "1" },
        { to: "not-an-email", subject: "2" }
      ]))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "ParseError")
        assert.include(result.left.message, "to")
        assert.include(result.left.message, "[1]")
      }
      const badOption = yield* Effect.flip(Enqueue.one(SendEmail, { to: "a@b.c", subject: "x" }, { priority: 11 }))
      assert.strictEqual(badOption._tag, "Redrive/InvalidEnqueueOption")
      assert.strictEqual(badOption._tag === "Redrive/InvalidEnqueueOption" ? badOption.field : "", "priority")
      assert.strictEqual(yield* count("redrive.job"), before)
    }))

  it.effect("a duplicate idempotency key returns the first job while it is unfinished", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const payload = { to: "k@example.com", subject: "welcome" }
      const first = yield* Enqueue.one(SendEmail, payload, { idempotencyKey: "welcome:42" })
      const second = yield* Enqueue.one(SendEmail, payload, { idempotencyKey: "welcome:42" })
      assert.strictEqual(second, first)
      const batch = yield* Enqueue.many(SendEmail, [payload, payload, payload], {
        idempotencyKeys: ["welcome:42", "welcome:43", undefined]
      })
      assert.strictEqual(batch[0], first)
      assert.notStrictEqual(batch[1], first)
      assert.strictEqual(yield* count(`redrive.job where idempotency_key like 'welcome:%'`), 2)
      // Once the first job is finished, the key is free again.
      yield* sql`update redrive.job set state = 'cancelled', completed_at = now() where id = ${first}`
      const third = yield* Enqueue.one(SendEmail, payload, { idempotencyKey: "welcome:42" })
      assert.notStrictEqual(third, first)
      // Same key in another tenant: a different job.
      const otherTenant = yield* Enqueue.one(SendEmail, payload, { idempotencyKey: "welcome:43", tenantId: "other" })
      assert.notStrictEqual(otherTenant, batch[1])
    }))

  it.effect("an enqueue in a rolled-back transaction leaves no job", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`create table if not exists orders (id int primary key)`
      const before = yield* count("redrive.job")
      const failed = yield* Effect.either(sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into orders values (1)`
        yield* Enqueue.one(SendEmail, { to: "t@example.com", subject: "order 1" })
        return yield* Effect.fail("payment declined" as const)
      })))
      assert.isTrue(Either.isLeft(failed))
      assert.strictEqual(yield* count("redrive.job"), before)
      assert.strictEqual(yield* count("orders"), 0)
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into orders values (2)`
        yield* Enqueue.one(SendEmail, { to: "t@example.com", subject: "order 2" })
      }))
      assert.strictEqual(yield* count("redrive.job"), before + 1)
    }))

  it.effect("enqueue into a paused scope keeps the job waiting in state paused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`insert into redrive.control (tenant_id, queue, state, initiated_by) values ('*', 'emails', 'paused', 'ops')`
      const id = yield* Enqueue.one(SendEmail, { to: "p@example.com", subject: "later" }, { tenantId: "zeta" })
      const [row] = yield* sql<{ state: string }>`select state from redrive.job where id = ${id}`
      assert.strictEqual(row!.state, "paused")
      yield* sql`delete from redrive.control where tenant_id = '*' and queue = 'emails'`
    }))

  it.effect("a bulk enqueue is one statement and returns ids in input order", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const payloads = Array.from({ length: 3000 }, (_, i) => ({ to: `u${i}@example.com`, subject: String(i) }))
      const ids = yield* Enqueue.many(SendEmail, payloads, { tenantId: "bulk" })
      assert.strictEqual(ids.length, 3000)
      const rows = yield* sql<{ id: string; subject: string }>`
        select id, payload->>'subject' as subject from redrive.job where tenant_id = 'bulk' order by id`
      assert.deepStrictEqual(rows.map((r) => Number(r.id)), [...ids])
      assert.deepStrictEqual(rows.map((r) => r.subject), payloads.map((p) => p.subject))
    }))
})
