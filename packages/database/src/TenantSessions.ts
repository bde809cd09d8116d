/**
 * Where tenant-scoped work runs: a connection pool of its own, logged in as `redrive_tenant`,
 * and the tenant tokens that say which tenant a transaction on it serves.
 *
 * The wall is the login: a tenant session cannot `reset role` or `set role` its way to more
 * rights, and it sees a row only when the row's tenant matches a token sealed with a key only
 * the schema's owner can read (`redrive.seal_tenant`, run by the runtime role), so setting
 * another tenant's id, or a made-up token, shows nothing. The pool connects on first use: a
 * process that never opens a tenant block never logs in as the tenant role.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer, Option, type Redacted, Scope, SynchronizedRef } from "effect"
import type { TenantId } from "./Ids.js"

export interface TenantSessionsConfig {
  /** Logs in as `redrive_tenant`. */
  readonly url: Redacted.Redacted
  readonly maxConnections?: number
  readonly applicationName?: string
  readonly transforms: Pick<PgClient.PgClientConfig, "transformQueryNames" | "transformResultNames" | "transformJson">
}

export class TenantSessions extends Context.Tag("@redrive/database/TenantSessions")<TenantSessions, {
  /** The tenant pool's client (connected on first use). */
  readonly client: Effect.Effect<SqlClient.SqlClient, SqlError>
  /** The sealed token of a tenant, minted by the runtime role and kept for reuse. */
  readonly token: (tenantId: TenantId) => Effect.Effect<string, SqlError>
}>() {}

/** Tokens are deterministic per tenant; the cache is dropped whole when it grows past this. */
const maxCachedTokens = 10_000

/** Needs the runtime's SqlClient (to seal tokens). */
export const layer = (config: TenantSessionsConfig): Layer.Layer<TenantSessions, never, SqlClient.SqlClient> =>
  Layer.scoped(
    TenantSessions,
    Effect.gen(function*() {
      const runtime = yield* SqlClient.SqlClient
      const scope = yield* Effect.scope
      const pool = yield* SynchronizedRef.make(Option.none<SqlClient.SqlClient>())
      const connect = PgClient.make({
        url: config.url,
        maxConnections: config.maxConnections ?? 5,
        applicationName: config.applicationName ?? "redrive-tenant",
        idleTimeout: Duration.seconds(30),
        ...config.transforms
      }).pipe(Effect.provide(Reactivity.layer), Scope.extend(scope))
      const client = SynchronizedRef.modifyEffect(pool, (current) =>
        Option.isSome(current)
          ? Effect.succeed([current.value, current] as const)
          : Effect.map(connect, (made): readonly [SqlClient.SqlClient, Option.Option<SqlClient.SqlClient>] => [
            made,
            Option.some(made)
          ]))

      const tokens = new Map<string, string>()
      const token = (tenantId: TenantId) => {
        const known = tokens.get(tenantId)
        if (known !== undefined) return Effect.succeed(known)
        return runtime<{ readonly token: string | null }>`select redrive.seal_tenant(${tenantId}) as token`.pipe(
          Effect.flatMap(([row]) =>
            row?.token
              ? Effect.succeed(row.token)
              : Effect.fail(new SqlError({ message: `no tenant token for ${JSON.stringify(tenantId)}` }))
          ),
          Effect.tap((sealed) =>
            Effect.sync(() => {
              if (tokens.size >= maxCachedTokens) tokens.clear()
              tokens.set(tenantId, sealed)
            })
          )
        )
      }
      return { client, token }
    })
  )
