import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Layer } from "effect"
import * as DeadLetterPurge from "../src/DeadLetterPurge.js"
import * as JobRegistry from "../src/JobRegistry.js"
import * as Replay from "../src/Replay.js"
import { seedDeadLetters } from "./replayFixtures.js"

const TestLayer = Layer.mergeAll(
  DeadLetterPurge.layer({ batchSize: 2 }),
  Replay.layer().pipe(Layer.provide(JobRegistry.layer([])))
).pipe(Layer.provideMerge(TestDatabase.layer))

const remaining = (tenant: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string }>`select id from redrive.job_dlq where tenant_id = ${tenant} order by id`).pipe(
    Effect.map((rows) => rows.map((r) => Number(r.id)))
  )

/** The field an InvalidInput names, else the failure's tag (so a wrong failure fails the assertion). */
const fieldOf = (e: { readonly _tag: string }) => ("field" in e && typeof e.field === "string" ? e.field : e._tag)

layer(TestLayer)("DeadLetterPurge", (it) => {
  it.effect("deletes a tenant's matching dead letters in batches and audits the count; another tenant's stay", () =>
    Effect.gen(function*() {
      const purger = yield* DeadLetterPurge.DeadLetterPurge
      const ids = yield* seedDeadLetters({ queue: "purge-a", count: 5, tenant: "purge-a" })
      const others = yield* seedDeadLetters({ queue: "purge-a", count: 2, tenant: "purge-b" })
      const dry = yield* purger.purge({ filter: { tenantId: "purge-a" }, dryRun: true, by: "ops" })
      assert.deepStrictEqual(dry, { count: 5, dryRun: true, auditId: null })
      assert.deepStrictEqual(yield* remaining("purge-a"), ids)
      const done = yield* purger.purge({ filter: { tenantId: "purge-a" }, by: "ops", reason: "cleanup" })
      assert.strictEqual(done.count, 5)
      assert.deepStrictEqual(yield* remaining("purge-a"), [])
      assert.deepStrictEqual(yield* remaining("purge-b"), others)
      const sql = yield* SqlClient.SqlClient
      const [audit] = yield* sql<{ deleted: string; tenantId: string; filter: unknown }>`
        select deleted, tenant_id, filter from redrive.dlq_purge where id = ${done.auditId}`
      assert.deepStrictEqual([Number(audit!.deleted), audit!.tenantId, audit!.filter], [5, "purge-a", { tenantId: "purge-a" }])
    }))

  it.effect("keeps the dead letters a pending bulk replay may still replay", () =>
    Effect.gen(function*() {
      const purger = yield* DeadLetterPurge.DeadLetterPurge
      const replay = yield* Replay.Replay
      const held = yield* seedDeadLetters({ queue: "purge-held", count: 3, tenant: "purge-c" })
      yield* replay.createBulk({ filter: { tenantId: "purge-c", queue: "other" }, scopeTenant: "purge-c", requestedBy: "ops" })
      const later = yield* seedDeadLetters({ queue: "purge-held", count: 1, tenant: "purge-c" })
      const done = yield* purger.purge({ filter: { tenantId: "purge-c" }, by: "ops" })
      // The request's snapshot covers the first three (whatever its filter): only the later one goes.
      assert.strictEqual(done.count, 1)
      assert.deepStrictEqual(yield* remaining("purge-c"), held)
      assert.notInclude(yield* remaining("purge-c"), later[0]!)
    }))

  it.effect("bad input names its field and deletes nothing", () =>
    Effect.gen(function*() {
      const purger = yield* DeadLetterPurge.DeadLetterPurge
      const ids = yield* seedDeadLetters({ queue: "purge-bad", count: 1, tenant: "purge-d" })
      const badClass = yield* Effect.flip(purger.purge({ filter: { tenantId: "purge-d", errorClass: "Not A Class" }, by: "ops" }))
      assert.strictEqual(fieldOf(badClass), "filter.errorClass")
      const badAge = yield* Effect.flip(purger.purge({ filter: { tenantId: "purge-d" }, olderThan: -5, by: "ops" }))
      assert.strictEqual(fieldOf(badAge), "olderThan")
      const noActor = yield* Effect.flip(purger.purge({ filter: { tenantId: "purge-d" }, by: " " }))
      assert.strictEqual(fieldOf(noActor), "by")
      assert.deepStrictEqual(yield* remaining("purge-d"), ids)
    }))
})
