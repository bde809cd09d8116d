import { NodeContext } from "@effect/platform-node"
import { Database, MigrationRunner } from "@redrive/database"
import { SqlClient } from "@effect/sql"
import { Enqueue, JobDefinition, Worker } from "@redrive/jobs"
import { Deferred, Effect, Layer, Redacted, Schema } from "effect"
import pg from "pg"

const N = Number(process.env.N ?? 20000)
const admin = "postgres://postgres@127.0.0.1:5432/postgres"
const db = "redrive_smoke"
const c = new pg.Client(admin); await c.connect(); await c.query(`drop database if exists ${db} with (force)`); await c.query(`create database ${db}`); await c.end()
const url = Redacted.make(`postgres://postgres@127.0.0.1:5432/${db}`)

const Noop = JobDefinition.make({ name: "noop", payload: Schema.Struct({ i: Schema.Number }), retry: { maxAttempts: 3, base: 0 } })

const program = Effect.gen(function*() {
  yield* MigrationRunner.up()
  const payloads = Array.from({ length: N }, (_, i) => ({ i }))
  let t = performance.now()
  if (process.env.SQL_ENQUEUE) {
    const sql = yield* SqlClient.SqlClient
    yield* sql`insert into redrive.job (type, payload) select 'noop', jsonb_build_object('i', g) from generate_series(1, ${N}) g`
    yield* sql`vacuum analyze redrive.job`
  } else for (let i = 0; i < N; i += 1000) yield* Enqueue.many(Noop, payloads.slice(i, i + 1000))
  console.log(`enqueue ${N}: ${(performance.now() - t).toFixed(0)} ms`)
  let count = 0
  const done = yield* Deferred.make<void>()
  const handler = JobDefinition.handle(Noop, () => Effect.suspend(() => { if (++count === N) return Deferred.succeed(done, undefined); return Effect.void }))
  t = performance.now()
  const cpu0 = process.cpuUsage()
  yield* Effect.scoped(Effect.gen(function*() {
    yield* Layer.buildWithScope(Worker.layer({ handlers: [handler], batchSize: Number(process.env.BATCH ?? 1000), concurrency: Number(process.env.CONC ?? 2000) }), yield* Effect.scope)
    yield* Deferred.await(done)
  }))
  const cpu = process.cpuUsage(cpu0)
  console.log(`process ${N}: ${(performance.now() - t).toFixed(0)} ms, ${(N / ((performance.now() - t) / 1000)).toFixed(0)} jobs/s, node cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`)
})
await Effect.runPromise(program.pipe(Effect.provide(Database.layer({ url, maxConnections: 6 })), Effect.provide(NodeContext.layer)))
if (process.env.METRICS) {
  const { Metrics } = await import("@redrive/jobs")
  const { Metric } = await import("effect")
  for (const [name, m] of [["claim", Metrics.claimBatchSize], ["settle", Metrics.settleBatchSize]] as const) {
    const state = await Effect.runPromise(Metric.value(m))
    console.log(name, "count", state.count, "sum", state.sum, "avg", (state.sum / state.count).toFixed(1))
  }
}
