/**
 * The PgClient layer. Column names are mapped snake_case <-> camelCase, but jsonb values are
 * kept verbatim (`transformJson: false`): a payload's keys are the user's, not ours.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Duration, Effect, Layer, String as Str } from "effect"
import type { Redacted } from "effect"

export interface DatabaseConfig {
  readonly url: Redacted.Redacted
  readonly maxConnections?: number
  readonly applicationName?: string
}

export const clientOptions = {
  transformQueryNames: Str.camelToSnake,
  transformResultNames: Str.snakeToCamel,
  transformJson: false
} as const

export const layer = (config: DatabaseConfig) =>
  PgClient.layer({
    url: config.url,
    maxConnections: config.maxConnections ?? 10,
    applicationName: config.applicationName ?? "redrive",
    idleTimeout: Duration.seconds(30),
    ...clientOptions
  })

/** DATABASE_URL (required) and DATABASE_POOL_SIZE (default 10). */
export const config: Config.Config<DatabaseConfig> = Config.all({
  url: Config.redacted("DATABASE_URL"),
  maxConnections: Config.integer("DATABASE_POOL_SIZE").pipe(
    Config.validate({ message: "DATABASE_POOL_SIZE must be between 1 and 1000", validation: (n) => n >= 1 && n <= 1000 }),
    Config.withDefault(10)
  ),
  applicationName: Config.string("DATABASE_APPLICATION_NAME").pipe(Config.withDefault("redrive"))
})

export const layerConfig = Layer.unwrapEffect(Effect.map(config, layer))
