/**
 * Where Redrive's database is: DATABASE_URL when it is set, otherwise the embedded default
 * (started on demand, database `redrive` created if missing).
 */
import { Config, Effect, Option, Redacted } from "effect"
import type { Scope } from "effect/Scope"
import pg from "pg"
import { resolve } from "node:path"
import * as EmbeddedPostgres from "./EmbeddedPostgres.js"

export const embeddedConfig = Config.all({
  dataDir: Config.string("REDRIVE_EMBEDDED_DIR").pipe(Config.withDefault(resolve(".data", "postgres"))),
  port: Config.port("REDRIVE_EMBEDDED_PORT").pipe(Config.withDefault(54329))
})

export interface ResolvedDatabase {
  readonly url: Redacted.Redacted
  readonly embedded: boolean
}

/** Replaces the database name of a Postgres URL. */
export const withDatabase = (url: Redacted.Redacted, database: string): Redacted.Redacted => {
  const u = new URL(Redacted.value(url))
  u.pathname = `/${database}`
  return Redacted.make(u.toString())
}

/** Creates `database` on the server of `adminUrl` unless it exists. */
export const ensureDatabase = (adminUrl: Redacted.Redacted, database: string) =>
  Effect.tryPromise({
    try: async () => {
      const client = new pg.Client({ connectionString: Redacted.value(adminUrl) })
      await client.connect()
      try {
        const found = await client.query("select 1 from pg_database where datname = $1", [database])
        if (found.rowCount === 0) {
          await client.query(`create database "${database.replace(/"/g, '""')}"`).catch((e: { code?: string }) => {
            if (e.code !== "42P04") throw e // created concurrently: fine
          })
        }
      } finally {
        await client.end()
      }
    },
    catch: (cause) =>
      new EmbeddedPostgres.EmbeddedPostgresError({ message: `cannot create database ${database}: ${String(cause)}`, log: [] })
  })

export const resolveDatabase: Effect.Effect<
  ResolvedDatabase,
  EmbeddedPostgres.EmbeddedPostgresError | import("effect/ConfigError").ConfigError,
  Scope
> = Effect.gen(function*() {
  const fromEnv = yield* Config.option(Config.redacted("DATABASE_URL"))
  if (Option.isSome(fromEnv) && Redacted.value(fromEnv.value) !== "") return { url: fromEnv.value, embedded: false }
  const options = yield* embeddedConfig
  const server = yield* EmbeddedPostgres.start(options)
  yield* ensureDatabase(server.adminUrl, "redrive")
  return { url: withDatabase(server.adminUrl, "redrive"), embedded: true }
})
