/**
 * The hot statements' prepared path: named on the runtime's pool outside transactions and
 * tenant blocks, unnamed (as the SqlClient runs it) inside them and when prepared statements are off.
 * `pg_prepared_statements` lists the session's named statements, the one being executed included.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Database from "../src/Database.js"
import * as PreparedStatement from "../src/PreparedStatement.js"
import { withTenant } from "../src/Tenant.js"
import { Factory, TestDatabase } from "../src/testing/index.js"

/** The named statements of the session that runs this statement, as `prefix` names them. */
const namedHere = (prefix: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    PreparedStatement.execute(
      prefix,
      sql<{ name: string }>`select name from pg_prepared_statements where name like ${`${prefix}\\_%`} order by name`
    ))

layer(TestDatabase.layer, { excludeTestServices: true })("prepared statements", (it) => {
  it.effect("outside a transaction the statement runs named, once parsed per connection; its rows come back", () =>
    Effect.gen(function*() {
      const first = yield* namedHere("redrive_prep_test")
      assert.strictEqual(first.length, 1)
      assert.match(first[0]!.name, /^redrive_prep_test_[0-9a-z]+$/)
      // Again (on whichever connection): still one name for the one text.
      for (let i = 0; i < 20; i++) assert.deepStrictEqual(yield* namedHere("redrive_prep_test"), first)
    }))

  it.effect("inside a transaction or a tenant block it runs on that connection, unnamed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const inTransaction = yield* sql.withTransaction(
        Effect.zipRight(sql`select set_config('application_name', 'prep-tx', true)`, namedHere("redrive_prep_tx"))
      )
      assert.deepStrictEqual(inTransaction, [])
      const tenant = Factory.tenant()
      const inTenant = yield* withTenant(tenant, namedHere("redrive_prep_tenant"))
      assert.deepStrictEqual(inTenant, [])
    }))

  it.effect("with preparedStatements: false nothing is named", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const rows = yield* namedHere("redrive_prep_off").pipe(
        Effect.provide(Database.layer({ url: info.url, maxConnections: 2, preparedStatements: false })),
        Effect.scoped
      )
      assert.deepStrictEqual(rows, [])
    }))

  it.effect("a failing statement fails with a SqlError, and the pool goes on", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(PreparedStatement.execute("redrive_prep_bad", sql`select 1 / ${0}::int`))
      assert.strictEqual(error._tag, "SqlError")
      assert.include(String(error.cause), "division by zero")
      assert.strictEqual((yield* namedHere("redrive_prep_after")).length, 1)
    }))
})
