/**
 * The runtime's `pg` pool, built here rather than inside @effect/sql-pg so that the library's
 * hottest statements can run as named prepared statements (PreparedStatement.ts): @effect/sql-pg
 * sends every statement unnamed, so Postgres parses and plans it anew on each call (enqueue's
 * statement: 0.63 ms unnamed against 0.34 ms prepared, as cheap as a plain one-row insert).
 * The PgClient (and so SqlClient) of Database.layer runs on this same pool.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { Context, Duration, Effect, Redacted } from "effect"
import Pg from "pg"

/**
 * The pool and the SqlClient that runs on it: a statement takes the prepared path only when the
 * SqlClient it would otherwise run on is this one (a layer provided further in, for another
 * database or with prepared statements off, brings its own client and so opts out).
 */
export class PgPool extends Context.Tag("@redrive/database/PgPool")<PgPool, {
  readonly pool: Pg.Pool
  readonly client: SqlClient
}>() {}

export interface PoolOptions {
  readonly url: Redacted.Redacted
  readonly maxConnections: number
  readonly applicationName: string
  readonly idleTimeout: Duration.Duration
  readonly connectTimeout?: Duration.Duration
}

/** A pool that has answered one `select 1`, ended with its scope (as @effect/sql-pg's own). */
export const acquire = (options: PoolOptions) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const pool = new Pg.Pool({
        connectionString: Redacted.value(options.url),
        max: options.maxConnections,
        idleTimeoutMillis: Duration.toMillis(options.idleTimeout),
        connectionTimeoutMillis: Duration.toMillis(options.connectTimeout ?? Duration.seconds(5)),
        application_name: options.applicationName
      })
      // An idle connection's error (the server restarted) is the pool's to handle: it drops the
      // connection. Without a listener it would crash the process.
      pool.on("error", () => {})
      return Effect.tryPromise({
        try: () => pool.query("select 1"),
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
      }).pipe(
        Effect.timeoutFail({
          duration: options.connectTimeout ?? Duration.seconds(5),
          onTimeout: () => new SqlError({ cause: new Error("Connection timed out"), message: "PgClient: Connection timed out" })
        }),
        Effect.tapError(() => Effect.promise(() => pool.end())),
        Effect.as(pool)
      )
    }),
    (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
  )
