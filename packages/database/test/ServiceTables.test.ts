/**
 * A service's own tables behind the same wall (migrations/0017_grant_tenant_access.sql): what a
 * service's migration runs as the administrator, then the runtime and a tenant block using them.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { withTenant } from "../src/Tenant.js"
import { AdminClient, Factory as F, TestDatabase } from "../src/testing/index.js"

layer(TestDatabase.layer, { excludeTestServices: true })("a service's own tables", (it) => {
  it.effect("grant_tenant_access: the runtime sees every tenant, a tenant block its own, a serial id works", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const sql = yield* SqlClient.SqlClient
      const [a, b] = [F.tenant(), F.tenant()]
      yield* AdminClient.adminQuery(info.adminDatabaseUrl, `
        create schema billing;
        create table billing.invoice (id serial primary key, tenant_id text not null, amount int not null);
        select redrive.grant_tenant_access('billing.invoice');`)
      yield* sql`insert into billing.invoice (tenant_id, amount) values (${a}, 10), (${b}, 20)`
      const all = yield* sql<{ tenantId: string }>`select tenant_id from billing.invoice order by id`
      assert.deepStrictEqual(all.map((r) => r.tenantId), [a, b])
      const seen = yield* withTenant(a, Effect.gen(function*() {
        yield* sql`insert into billing.invoice (tenant_id, amount) values (${a}, 11)`
        return yield* sql<{ amount: number }>`select amount from billing.invoice order by id`
      }))
      assert.deepStrictEqual(seen.map((r) => r.amount), [10, 11])
      const intoB = yield* Effect.flip(withTenant(a, sql`insert into billing.invoice (tenant_id, amount) values (${b}, 1)`))
      assert.include(String(intoB.cause), "row-level security")
      const moved = yield* withTenant(a, sql`update billing.invoice set amount = 0 where tenant_id = ${b} returning id`)
      assert.strictEqual(moved.length, 0)
      const noColumn = yield* Effect.flip(AdminClient.adminQuery(info.adminDatabaseUrl, `
        create table billing.plain (id int);
        select redrive.grant_tenant_access('billing.plain');`))
      assert.strictEqual(noColumn.code, "42703")
    }))

  it.effect("a table without the grant: the SqlError says permission denied, its SQLSTATE and the grant to run", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const sql = yield* SqlClient.SqlClient
      const table = F.unique("ungranted").replaceAll("-", "_")
      yield* AdminClient.adminQuery(info.adminDatabaseUrl, `create table public.${table} (tenant_id text not null)`)
      const denied = yield* Effect.flip(withTenant(F.tenant(), sql`select * from ${sql(table)}`))
      assert.strictEqual(denied._tag, "SqlError")
      assert.include(denied.message, `permission denied for table ${table} (SQLSTATE 42501)`)
      assert.include(denied.message, "redrive.grant_tenant_access(")
    }))

  it.effect("withTenant takes a plain string and refuses what is no tenant id, naming the field", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const empty = yield* Effect.flip(withTenant("", sql`select 1`))
      assert.deepInclude(empty, { _tag: "Redrive/InvalidInput", field: "tenantId" })
      const long = yield* Effect.flip(withTenant("x".repeat(129), sql`select 1`))
      assert.deepInclude(long, { _tag: "Redrive/InvalidInput", field: "tenantId" })
      const reserved = yield* Effect.flip(withTenant("default", sql`select 1`))
      assert.strictEqual(reserved._tag, "Redrive/ReservedTenant")
    }))
})
