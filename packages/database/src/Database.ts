/**
 * The database layers: the runtime's PgClient (DATABASE_URL, the `redrive_runtime` role) and
 * the tenant pool behind `Tenant.withTenant` (`redrive_tenant`; see TenantSessions.ts). Column
 * names are mapped snake_case <-> camelCase, but jsonb values are kept verbatim
 * (`transformJson: false`): a payload's keys are the user's, not ours.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Duration, Effect, Layer, Option, String as Str } from "effect"
import type { Redacted } from "effect"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgPool from "./PgPool.js"
import * as Roles from "./Roles.js"
import * as TenantSessions from "./TenantSessions.js"

export interface DatabaseConfig {
  readonly url: Redacted.Redacted
  readonly maxConnections?: number
  readonly applicationName?: string
  /** Where tenant sessions log in; by default `url` with the user `redrive_tenant` (same password). */
  readonly tenantUrl?: Redacted.Redacted
  readonly tenantMaxConnections?: number
  /** An administrator's connection (migrations): no warning that it bypasses row-level security. */
  readonly administrator?: boolean
  /**
   * The hot statements as named prepared statements (PreparedStatement.ts); default true. Off for
   * a connection pooler in transaction mode that does not track them (PgBouncer before 1.21).
   */
  readonly preparedStatements?: boolean
}

export const clientOptions = {
  transformQueryNames: Str.camelToSnake,
  transformResultNames: Str.snakeToCamel,
  transformJson: false
} as const

/**
 * A runtime connected as a superuser (or a role with BYPASSRLS) works, but row-level security
 * no longer guards its own statements: say so once at startup. Tenant blocks are walled either way.
 */
const warnIfPrivileged = Layer.effectDiscard(
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly user: string; readonly privileged: boolean }>`
      select current_user as user, rolsuper or rolbypassrls as privileged from pg_roles where rolname = current_user`
  ).pipe(
    Effect.flatMap(([me]) =>
      me?.privileged
        ? Effect.logWarning(
          `connected as ${me.user}, which bypasses row-level security; connect as ${Roles.runtime} (README: ` +
            `"Database roles and tenant isolation")`
        )
        : Effect.void
    ),
    Effect.ignore
  )
)

export const layer = (
  config: DatabaseConfig
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | TenantSessions.TenantSessions, SqlError> => {
  const applicationName = config.applicationName ?? "redrive"
  return Layer.merge(TenantSessions.layer({
    url: config.tenantUrl ?? Roles.withUser(config.url, Roles.tenant),
    maxConnections: config.tenantMaxConnections ?? 5,
    applicationName: `${applicationName}-tenant`,
    transforms: clientOptions
  }), config.administrator === true ? Layer.empty : warnIfPrivileged).pipe(Layer.provideMerge(runtimeClient(config, applicationName)))
}

/** The runtime's PgClient over a pool of ours (PgPool.ts), which is provided too unless prepared statements are off. */
const runtimeClient = (config: DatabaseConfig, applicationName: string) =>
  Layer.scopedContext(Effect.gen(function*() {
    const pool = yield* PgPool.acquire({
      url: config.url,
      maxConnections: config.maxConnections ?? 10,
      applicationName,
      idleTimeout: Duration.seconds(30)
    })
    const client = yield* PgClient.fromPool({ acquire: Effect.succeed(pool), applicationName, ...clientOptions })
    const clients = Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    return config.preparedStatements === false ? clients : Context.add(clients, PgPool.PgPool, { pool, client })
  })).pipe(Layer.provide(Reactivity.layer))

const poolSize = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be between 1 and 1000`, validation: (n) => n >= 1 && n <= 1000 }),
    Config.withDefault(fallback)
  )

/**
 * DATABASE_URL (required: the runtime role), DATABASE_POOL_SIZE (default 10),
 * DATABASE_PREPARED_STATEMENTS (default true); the tenant pool:
 * DATABASE_TENANT_URL, else DATABASE_URL as `redrive_tenant` with DATABASE_TENANT_PASSWORD (else
 * the same password), DATABASE_TENANT_POOL_SIZE (default 5).
 */
export const config: Config.Config<DatabaseConfig> = Config.all({
  url: Config.redacted("DATABASE_URL"),
  maxConnections: poolSize("DATABASE_POOL_SIZE", 10),
  applicationName: Config.string("DATABASE_APPLICATION_NAME").pipe(Config.withDefault("redrive")),
  tenantUrl: Config.option(Config.redacted("DATABASE_TENANT_URL")),
  tenantPassword: Config.option(Config.redacted("DATABASE_TENANT_PASSWORD")),
  tenantMaxConnections: poolSize("DATABASE_TENANT_POOL_SIZE", 5),
  preparedStatements: Config.boolean("DATABASE_PREPARED_STATEMENTS").pipe(Config.withDefault(true))
}).pipe(Config.map(({ tenantPassword, tenantUrl, ...rest }) => ({
  ...rest,
  tenantUrl: Option.getOrElse(
    tenantUrl,
    () => Roles.withUser(rest.url, Roles.tenant, Option.getOrUndefined(tenantPassword))
  )
})))

export const layerConfig = Layer.unwrapEffect(Effect.map(config, layer))
