/**
 * The database layers: the runtime's PgClient (DATABASE_URL, the `redrive_runtime` role) and
 * the tenant pool behind `Tenant.withTenant` (`redrive_tenant`; see TenantSessions.ts). Column
 * names are mapped snake_case <-> camelCase, but jsonb values are kept verbatim
 * (`transformJson: false`): a payload's keys are the user's, not ours.
 */
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Config, Duration, Effect, Layer, Option, String as Str } from "effect"
import type { Redacted } from "effect"
import type { SqlError } from "@effect/sql/SqlError"
import * as Roles from "./Roles.js"
import * as TenantSessions from "./TenantSessions.js"

export interface DatabaseConfig {
  readonly url: Redacted.Redacted
  readonly maxConnections?: number
  readonly applicationName?: string
  /** Where tenant sessions log in; by default `url` with the user `redrive_tenant` (same password). */
  readonly tenantUrl?: Redacted.Redacted
  readonly tenantMaxConnections?: number
}

export const clientOptions = {
  transformQueryNames: Str.camelToSnake,
  transformResultNames: Str.snakeToCamel,
  transformJson: false
} as const

export const layer = (
  config: DatabaseConfig
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | TenantSessions.TenantSessions, SqlError> => {
  const applicationName = config.applicationName ?? "redrive"
  return TenantSessions.layer({
    url: config.tenantUrl ?? Roles.withUser(config.url, Roles.tenant),
    maxConnections: config.tenantMaxConnections ?? 5,
    applicationName: `${applicationName}-tenant`,
    transforms: clientOptions
  }).pipe(Layer.provideMerge(PgClient.layer({
    url: config.url,
    maxConnections: config.maxConnections ?? 10,
    applicationName,
    idleTimeout: Duration.seconds(30),
    ...clientOptions
  })))
}

const poolSize = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be between 1 and 1000`, validation: (n) => n >= 1 && n <= 1000 }),
    Config.withDefault(fallback)
  )

/**
 * DATABASE_URL (required: the runtime role), DATABASE_POOL_SIZE (default 10); the tenant pool:
 * DATABASE_TENANT_URL, else DATABASE_URL as `redrive_tenant` with DATABASE_TENANT_PASSWORD (else
 * the same password), DATABASE_TENANT_POOL_SIZE (default 5).
 */
export const config: Config.Config<DatabaseConfig> = Config.all({
  url: Config.redacted("DATABASE_URL"),
  maxConnections: poolSize("DATABASE_POOL_SIZE", 10),
  applicationName: Config.string("DATABASE_APPLICATION_NAME").pipe(Config.withDefault("redrive")),
  tenantUrl: Config.option(Config.redacted("DATABASE_TENANT_URL")),
  tenantPassword: Config.option(Config.redacted("DATABASE_TENANT_PASSWORD")),
  tenantMaxConnections: poolSize("DATABASE_TENANT_POOL_SIZE", 5)
}).pipe(Config.map(({ tenantPassword, tenantUrl, ...rest }) => ({
  ...rest,
  tenantUrl: Option.getOrElse(
    tenantUrl,
    () => Roles.withUser(rest.url, Roles.tenant, Option.getOrUndefined(tenantPassword))
  )
})))

export const layerConfig = Layer.unwrapEffect(Effect.map(config, layer))
