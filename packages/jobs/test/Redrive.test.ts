/**
 * The API a user writes from the README: `Redrive.layer` for an API process, `Redrive.layerWorker`
 * for a worker process, plain strings and numbers at the boundary, typed errors naming the field.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { JobDlqRepo, Tenant } from "@redrive/database"
import { Factory, Scratch, TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Exit, Layer, Redacted, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobCommands from "../src/JobCommands.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Redrive from "../src/Redrive.js"
import { Replay } from "../src/Replay.js"
import { count, eventually, fastWorker } from "./workerFixtures.js"

const Charge = JobDefinition.make({
  name: Factory.unique("charge"),
  queue: Factory.unique("billing"),
  payload: Schema.Struct({ invoice: Schema.Number, cents: Schema.Number.pipe(Schema.positive()) }),
  retry: { maxAttempts: 1 }
})

const cursorSecret = Redacted.make("a cursor key of the test suite")

/** The test database, and Redrive's API-process layer over it (its own pools, as a service has). */
const ApiProcess = Layer.unwrapEffect(
  Effect.map(TestDatabase.TestDatabaseInfo, (info) =>
    Redrive.layer({ definitions: [Charge], database: { url: info.url, maxConnections: 4 }, cursorSecret }))
).pipe(Layer.provideMerge(TestDatabase.layer))

layer(ApiProcess, { excludeTestServices: true, timeout: "60 seconds" })("Redrive.layer", (it) => {
  it.effect("an API process pages dead letters with a plain filter and replays one by a plain id", () =>
    Effect.gen(function*() {
      const tenantId = Factory.tenant()
      const [a, b, c] = [
        yield* Factory.insertDeadLetter({ tenantId, type: Charge.name, payload: { invoice: 1, cents: 5 } }),
        yield* Factory.insertDeadLetter({ tenantId, type: Charge.name, payload: { invoice: 2, cents: 5 } }),
        yield* Factory.insertDeadLetter({ tenantId, type: Charge.name, payload: { invoice: 3, cents: 5 } })
      ]
      const dlq = yield* JobDlqRepo.JobDlqRepo
      // Ids as numbers and as strings, a tenant as a string, dates as an ISO string.
      const filter = { tenantId, ids: [a!.id, String(b!.id), c!.id], dlqFrom: "2020-01-01T00:00:00Z" }
      const first = yield* dlq.listPending(filter, { limit: 2 })
      const second = yield* dlq.listPending(filter, { limit: 2, cursor: first.nextCursor })
      assert.deepStrictEqual([...first.items, ...second.items].map((d) => d.id).sort(), [a!.id, b!.id, c!.id].sort())
      assert.isNull(second.nextCursor)

      const replay = yield* Replay
      const replayed = yield* replay.replayOne({ id: String(b!.id), by: "ops", payload: { invoice: 2, cents: 7 } })
      assert.isTrue(replayed.created)
      const again = yield* replay.replayOne({ id: b!.id, by: "ops" })
      assert.deepStrictEqual(again, { jobId: replayed.jobId, created: false })
      const commands = yield* JobCommands.JobCommands
      const view = yield* commands.get({ kind: "job", id: String(replayed.jobId) })
      assert.deepInclude(view.kind === "job" ? view.job.payload : {}, { invoice: 2, cents: 7 })
      const cancelled = yield* commands.cancel({ id: replayed.jobId, by: "ops", reason: "refunded" })
      assert.strictEqual(cancelled.job.state, "cancelled")

      // Inside a tenant block the same calls see that tenant's rows only.
      const mine = yield* Tenant.withTenant(tenantId, dlq.listPending({ type: Charge.name }))
      assert.deepStrictEqual(mine.items.map((d) => d.id).sort(), [a!.id, c!.id].sort())
      const theirs = yield* Tenant.withTenant(Factory.tenant(), dlq.listPending({ type: Charge.name }))
      assert.strictEqual(theirs.items.length, 0)
    }))

  it.effect("bad input is a typed error naming the field, and nothing is written", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const dlq = yield* JobDlqRepo.JobDlqRepo
      const commands = yield* JobCommands.JobCommands
      const tenantId = Factory.tenant()
      const dead = yield* Factory.insertDeadLetter({ tenantId, type: Charge.name, payload: { invoice: 1, cents: 5 } })
      const errors = [
        yield* Effect.flip(replay.replayOne({ id: "seven", by: "ops" })),
        yield* Effect.flip(replay.replayOne({ id: -3, by: "ops" })),
        yield* Effect.flip(dlq.listPending({ ids: [1, "two"] })),
        yield* Effect.flip(dlq.listPending({ dlqFrom: "yesterday" })),
        yield* Effect.flip(dlq.listPending({ tenantId: "" })),
        yield* Effect.flip(dlq.get("1.5")),
        yield* Effect.flip(replay.get("not-a-uuid")),
        yield* Effect.flip(replay.cancel("")),
        yield* Effect.flip(commands.get({ kind: "dead_letter", id: 0 })),
        yield* Effect.flip(commands.retryNow({ id: "x", by: "ops" }))
      ]
      assert.deepStrictEqual(
        errors.map((e) => [e._tag, "field" in e ? e.field : undefined]),
        [
          ["Redrive/InvalidInput", "id"],
          ["Redrive/InvalidInput", "id"],
          ["Redrive/InvalidInput", "filter.ids.1"],
          ["Redrive/InvalidInput", "filter.dlqFrom"],
          ["Redrive/InvalidInput", "filter.tenantId"],
          ["Redrive/InvalidInput", "id"],
          ["Redrive/InvalidInput", "id"],
          ["Redrive/InvalidInput", "id"],
          ["Redrive/InvalidInput", "target.id"],
          ["Redrive/InvalidInput", "id"]
        ]
      )
      const limit = yield* Effect.flip(dlq.listPending({}, { limit: 0 }))
      assert.deepInclude(limit, { _tag: "Redrive/InvalidLimit", field: "limit" })
      const bulk = yield* Effect.flip(replay.createBulk({
        filter: { ids: ["many"] },
        scopeTenant: tenantId,
        requestedBy: "ops"
      }))
      assert.strictEqual(bulk._tag, "Redrive/InvalidBulkReplay")
      assert.match(bulk._tag === "Redrive/InvalidBulkReplay" ? bulk.field : "", /^filter\.ids/)
      assert.isNull((yield* dlq.get(dead.id)).pipe((o) => o._tag === "Some" ? o.value.replayedAt : "missing"))
      assert.strictEqual(yield* count(`redrive.replay_request where requested_by = 'ops' and tenant_id = '${tenantId}'`), 0)
    }))

  it.effect("a cursor key given in code must be a real secret", () =>
    Effect.gen(function*() {
      const weak = yield* Effect.exit(Effect.scoped(Layer.build(JobDlqRepo.layerWithSecret(Redacted.make("short")))))
      assert.isTrue(Exit.isFailure(weak))
      assert.include(String(weak), "cursorSecret")
    }))
})

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("Redrive.layerWorker", (it) => {
  it.effect("a worker process runs its handlers and replays dead letters of their types", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const charged = yield* Deferred.make<{ invoice: number; cents: number }>()
      const handler = JobDefinition.handle(Charge, (payload) => Deferred.succeed(charged, payload))
      const tenantId = Factory.tenant()
      const workerProcess = Redrive.layerWorker({
        ...fastWorker,
        handlers: [handler],
        database: { url: info.url, maxConnections: 4 },
        cursorSecret,
        maintenance: false
      })
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const enqueued = yield* sql.withTransaction(Enqueue.one(Charge, { invoice: 9, cents: 100 }, { tenantId }))
        assert.isFalse(enqueued.deduplicated)
        assert.deepStrictEqual(yield* Deferred.await(charged), { invoice: 9, cents: 100 })
        // The handler's definition is registered for replay without being listed again.
        const dead = yield* Factory.insertDeadLetter({
          tenantId,
          queue: Charge.queue,
          type: Charge.name,
          payload: { invoice: 10, cents: 1 }
        })
        const replay = yield* Replay
        const replayed = yield* replay.replayOne({ id: dead.id, by: "ops", payload: { invoice: 10, cents: 2 } })
        assert.isTrue(replayed.created)
        yield* eventually(count(`redrive.job where id = ${replayed.jobId}`), (n) => n === 0)
      }).pipe(Effect.provide(workerProcess))
    }))

  it.effect("with `cluster`, a worker process is also a cluster runner: registered at its address, holding the shards, gone when it stops", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const sql = yield* SqlClient.SqlClient
      const port = yield* Scratch.freePort
      const noHandlers: ReadonlyArray<JobDefinition.JobHandler<never>> = []
      const workerProcess = Redrive.layerWorker({
        ...fastWorker,
        handlers: noHandlers,
        database: { url: info.url, maxConnections: 4 },
        cursorSecret,
        maintenance: false,
        replayRunner: false,
        cluster: { runner: { host: "127.0.0.1", port, shardingConfig: { shardsPerGroup: 30 } } }
      }) satisfies Layer.Layer<Redrive.Services, unknown, never>
      const shardLocks = Effect.map(
        sql<{ n: number }>`select count(*)::int as n from pg_locks
          where locktype = 'advisory' and granted and classid = 0 and objid between 1000001 and 1000030
            and database = (select oid from pg_database where datname = current_database())`,
        (rows) => rows[0]!.n
      )
      const runners = Effect.map(sql<{ address: string }>`select address from cluster_runners`, (rows) => rows.map((r) => r.address))
      yield* Effect.gen(function*() {
        // It registers in the background once built.
        assert.deepStrictEqual(yield* eventually(runners, (r) => r.length > 0, "30 seconds"), [`127.0.0.1:${port}`])
        // The only runner: every shard of JobEntity is its own once assigned.
        assert.strictEqual(yield* eventually(shardLocks, (n) => n === 30, "30 seconds"), 30)
      }).pipe(Effect.provide(workerProcess))
      assert.deepStrictEqual(yield* runners, [])
      assert.strictEqual(yield* shardLocks, 0)
    }))
})
