/**
 * `pnpm demo`: migrates the database (DATABASE_URL, or the embedded default) and shows what
 * was created. Later versions of the demo run a job workload on top of it.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Database, DatabaseUrl, MigrationRunner } from "@redrive/database"
import { Console, Effect, Redacted } from "effect"

const showTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ name: string; kind: string; rls: boolean | null }>`
    select c.relname as name, case c.relkind when 'r' then 'table' else 'view' end as kind, c.relrowsecurity as rls
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'redrive' and c.relkind in ('r', 'v')
    order by c.relkind, c.relname`
  yield* Console.log("\nschema redrive:")
  for (const r of rows) {
    yield* Console.log(`  ${r.kind.padEnd(5)}  ${r.name.padEnd(16)}${r.rls ? "  row-level security" : ""}`)
  }
})

const program = Effect.gen(function*() {
  const started = Date.now()
  const db = yield* DatabaseUrl.resolveDatabase
  const where = new URL(Redacted.value(db.url))
  yield* Console.log(`Redrive demo — database ${db.embedded ? "(embedded) " : ""}${where.host}${where.pathname}`)
  yield* Effect.gen(function*() {
    const applied = yield* MigrationRunner.up()
    yield* Console.log(applied.length === 0 ? "migrations: up to date" : `migrations: applied ${applied.length}`)
    const status = yield* MigrationRunner.status()
    for (const s of status) {
      yield* Console.log(`  ${s.file.padEnd(30)} ${s.state}  ${s.appliedAt?.toISOString() ?? ""}`)
    }
    yield* showTables
  }).pipe(Effect.provide(Database.layer({ url: db.url, maxConnections: 2 })))
  yield* Console.log(`\ndone in ${Date.now() - started} ms`)
})

program.pipe(Effect.scoped, Effect.provide(NodeContext.layer), NodeRuntime.runMain)
