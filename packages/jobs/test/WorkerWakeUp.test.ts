/**
 * Wake-ups: an enqueue NOTIFYs the queue's workers, so an idle worker runs new work at once
 * instead of at its next poll. On the runtime's own pool the worker listens on a `pg` client of
 * its own; on another PgClient (no PgPool in its context) through sql-pg's stream: both are run.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { PgPool } from "@redrive/database"
import { assert, layer } from "@effect/vitest"
import { AdminClient, Factory as F, TestDatabase } from "@redrive/database/testing"
import { Context, Deferred, Effect, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Notify from "../src/Notify.js"
import { eventually, withWorker } from "./workerFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })

/** Sessions of this test's database whose last statement was a LISTEN on the wake-up channel. */
const listeners = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  SqlSchema.single({
    Request: Schema.String,
    Result: Schema.Struct({ n: Schema.Int }),
    execute: (statement) =>
      sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and query = ${statement}`
  })(`LISTEN "${Notify.channel}"`)).pipe(Effect.map((row) => row.n))

const paths: ReadonlyArray<{ path: string; run: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> }> = [
  { path: "its own connection", run: (effect) => effect },
  {
    path: "sql-pg's stream",
    // PgPool is only ever looked up as optional: the context without it serves the same effect.
    run: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.mapInputContext(effect, (context: Context.Context<R>) => Context.omit(PgPool.PgPool)(context) as Context.Context<R>)
  }
]

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("worker wake-ups", (it) => {
  for (const { path, run } of paths) {
    it.effect(`${path}: an idle worker is woken by an enqueue and runs the job long before its next poll`, () =>
      Effect.gen(function*() {
        const Def = JobDefinition.make({ name: "wake.job", payload: Payload, queue: F.queue() })
        const started = yield* Deferred.make<number>()
        const handler = JobDefinition.handle(Def, () => Deferred.succeed(started, Date.now()))
        yield* run(withWorker(
          { handlers: [handler], pollInterval: "20 seconds" },
          Effect.gen(function*() {
            yield* eventually(listeners, (n) => n > 0)
            // Its first claim came back empty: the worker now sleeps until a wake-up or its poll 20 s away.
            yield* Effect.sleep("500 millis")
            const enqueuedAt = Date.now()
            yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
            const startedAt = yield* Deferred.await(started).pipe(
              Effect.timeoutFail({
                duration: "8 seconds",
                onTimeout: () => new Error("not woken: the job did not start within 8 s of its enqueue (poll: 20 s)")
              })
            )
            assert.isBelow(startedAt - enqueuedAt, 3000, `started ${startedAt - enqueuedAt} ms after its enqueue`)
          })
        ))
      }))

    it.effect(`${path}: a worker whose LISTEN connection is killed listens anew and is woken again`, () =>
      Effect.gen(function*() {
        const Def = JobDefinition.make({ name: "wake.relisten", payload: Payload, queue: F.queue() })
        const started = yield* Deferred.make<number>()
        const handler = JobDefinition.handle(Def, () => Deferred.succeed(started, Date.now()))
        const info = yield* TestDatabase.TestDatabaseInfo
        yield* run(withWorker(
          { handlers: [handler], pollInterval: "60 seconds" },
          Effect.gen(function*() {
            yield* eventually(listeners, (n) => n > 0)
            // The listener's connection dies as it does when Postgres restarts: terminated by the server.
            yield* AdminClient.adminQuery(
              info.adminDatabaseUrl,
              `select pg_terminate_backend(pid) from pg_stat_activity
               where datname = current_database() and query = 'LISTEN "${Notify.channel}"'`
            )
            yield* eventually(listeners, (n) => n === 0)
            // Its probes stop coming back: within three probe intervals (5 s each) it listens again.
            yield* eventually(listeners, (n) => n > 0, "30 seconds")
            yield* Effect.sleep("500 millis")
            const enqueuedAt = Date.now()
            yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
            const startedAt = yield* Deferred.await(started).pipe(
              Effect.timeoutFail({ duration: "8 seconds", onTimeout: () => new Error("not woken after the listener came back") })
            )
            assert.isBelow(startedAt - enqueuedAt, 3000, `started ${startedAt - enqueuedAt} ms after its enqueue`)
          })
        ))
      }), 60_000)
  }
})
