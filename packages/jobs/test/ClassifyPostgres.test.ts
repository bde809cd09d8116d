import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Option, Redacted } from "effect"
import pg from "pg"
import * as Classify from "../src/Classify.js"

const none = { classify: () => Option.none<string>() }

/** What a failure of `effect` is classified as, with the SQLSTATE Postgres gave it. */
const classified = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    const cause: unknown = error instanceof Error ? error.cause : undefined
    const sqlState = cause instanceof pg.DatabaseError ? cause.code : undefined
    return [sqlState, Classify.classifyError(error, none, false, Date.now()).errorClass]
  })

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("classification of real Postgres failures", (it) => {
  it.effect("errors of failing statements, as @effect/sql reports them (a SqlError around pg's DatabaseError)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`create table classify_t (id int primary key, parent int references classify_t (id), v int not null default 0)`
      yield* sql`insert into classify_t (id) values (1), (2)`
      const cases = [
        yield* classified(sql`select 1 / 0`),
        yield* classified(sql`select 'forty-two'::int`),
        yield* classified(sql`insert into classify_t (id) values (1)`),
        yield* classified(sql`insert into classify_t (id, parent) values (3, 99)`),
        yield* classified(sql`insert into classify_t (id, v) values (4, null)`),
        yield* classified(sql.withTransaction(Effect.zipRight(sql`set local statement_timeout = 50`, sql`select pg_sleep(5)`))),
        yield* classified(sql`select * from classify_missing`),
        yield* classified(sql`selec 1`)
      ]
      assert.deepStrictEqual(cases, [
        ["22012", "validation"],
        ["22P02", "validation"],
        ["23505", "validation"],
        ["23503", "validation"],
        ["23502", "validation"],
        ["57014", "timeout"],
        // A bug in the job's SQL: retried as unknown, never filed as bad input.
        ["42P01", "unknown"],
        ["42601", "unknown"]
      ])
    }))

  it.effect("contention between sessions — a deadlock, a serialization failure, a NOWAIT lock — is retryable (external_api)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`create table classify_c (id int primary key, k text not null default '', v int not null default 0)`
      yield* sql`insert into classify_c (id) values (1), (2)`

      // Two transactions taking two rows in opposite orders: Postgres aborts one of them.
      const aHolds = yield* Deferred.make<void>()
      const bHolds = yield* Deferred.make<void>()
      const crossing = (first: number, second: number, mine: Deferred.Deferred<void>, theirs: Deferred.Deferred<void>) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* sql`update classify_c set v = v + 1 where id = ${first}`
          yield* Deferred.succeed(mine, undefined)
          yield* Deferred.await(theirs)
          yield* sql`update classify_c set v = v + 1 where id = ${second}`
        }))
      const deadlock = yield* Effect.all(
        [Effect.flip(crossing(1, 2, aHolds, bHolds)), Effect.flip(crossing(2, 1, bHolds, aHolds))].map((e) => Effect.option(e)),
        { concurrency: 2 }
      )
      const aborted = deadlock.flatMap(Option.toArray)
      assert.strictEqual(aborted.length, 1)

      // Write skew under serializable: each reads what the other writes. The first commits; the
      // second's write then makes it the pivot of a cycle, and Postgres refuses it.
      const aRead = yield* Deferred.make<void>()
      const bRead = yield* Deferred.make<void>()
      const aCommitted = yield* Deferred.make<void>()
      const first = sql.withTransaction(Effect.gen(function*() {
        yield* sql`set transaction isolation level serializable`
        yield* sql`select count(*) from classify_c where k = 'a'`
        yield* Deferred.succeed(aRead, undefined)
        yield* Deferred.await(bRead)
        yield* sql`insert into classify_c (id, k) values (10, 'b')`
      })).pipe(Effect.ensuring(Deferred.succeed(aCommitted, undefined)))
      const second = sql.withTransaction(Effect.gen(function*() {
        yield* sql`set transaction isolation level serializable`
        yield* sql`select count(*) from classify_c where k = 'b'`
        yield* Deferred.succeed(bRead, undefined)
        yield* Deferred.await(aCommitted)
        yield* sql`insert into classify_c (id, k) values (11, 'a')`
      }))
      const [, unserializable] = yield* Effect.all([first, Effect.flip(second)], { concurrency: 2 })

      // A row locked by another session, asked for with NOWAIT.
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`select * from classify_c where id = 1 for update`
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(release)
      })).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const nowait = yield* Effect.flip(sql`select * from classify_c where id = 1 for update nowait`)
      yield* Deferred.succeed(release, undefined)
      yield* holder.await

      const sqlStates = [...aborted, unserializable, nowait].map((error) => {
        const cause: unknown = error.cause
        return cause instanceof pg.DatabaseError ? cause.code : undefined
      })
      assert.deepStrictEqual(sqlStates, ["40P01", "40001", "55P03"])
      for (const error of [...aborted, unserializable, nowait]) {
        assert.strictEqual(Classify.classifyError(error, none, false, Date.now()).errorClass, "external_api")
      }
    }))

  it.effect("pg's own DatabaseError, thrown by a plain pg client", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const error = yield* Effect.acquireUseRelease(
        Effect.promise(async () => {
          const client = new pg.Client({ connectionString: Redacted.value(info.url) })
          await client.connect()
          return client
        }),
        (client) => Effect.flip(Effect.tryPromise({ try: () => client.query("select 1 / 0"), catch: (e) => e })),
        (client) => Effect.promise(() => client.end())
      )
      assert.instanceOf(error, pg.DatabaseError)
      assert.strictEqual(Classify.classifyError(error, none, false, Date.now()).errorClass, "validation")
    }))
})
