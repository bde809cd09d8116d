/**
 * Where a command runs: `--url` (or REDRIVE_URL) and `--key` (or REDRIVE_KEY) reach a running
 * server through the typed RPC client; without them the command talks to the database at
 * DATABASE_URL (the runtime role), or to the embedded default the demo uses.
 */
import { Options } from "@effect/cli"
import { Database, DatabaseUrl, Input, Roles } from "@redrive/database"
import { Config, type ConfigError, Effect, Option, Redacted, Schema } from "effect"

export const json = Options.boolean("json").pipe(
  Options.withDescription("Print one JSON document on stdout (errors too), for scripts.")
)

export const url = Options.text("url").pipe(
  Options.withDescription("A running Redrive server (default REDRIVE_URL); without it, the database directly."),
  Options.optional
)

export const key = Options.redacted("key").pipe(
  Options.withDescription("The API key for --url (default REDRIVE_KEY)."),
  Options.optional
)

/** The options every command that reads or changes Redrive takes. */
export const common = { json, url, key } as const

export interface Common {
  readonly json: boolean
  readonly url: Option.Option<string>
  readonly key: Option.Option<Redacted.Redacted>
}

export interface Remote {
  readonly url: string
  readonly key: Redacted.Redacted
}

const ServerUrl = Schema.String.pipe(
  Schema.filter((s) => /^https?:\/\/[^\s]+$/.test(s) && URL.canParse(s) || "must be an http:// or https:// URL")
)
const decodeUrl = Input.decode(ServerUrl, "url")

/**
 * The server to reach, if any: `--url`/`--key`, else REDRIVE_URL/REDRIVE_KEY. A URL without a key
 * is a usage error naming `key` (nothing is sent).
 */
export const remote = (options: Common): Effect.Effect<Option.Option<Remote>, Input.InvalidInput | ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const url = Option.isSome(options.url) ? options.url : yield* Config.option(Config.string("REDRIVE_URL"))
    if (Option.isNone(url) || url.value === "") return Option.none()
    const key = Option.isSome(options.key) ? options.key : yield* Config.option(Config.redacted("REDRIVE_KEY"))
    if (Option.isNone(key) || Redacted.value(key.value) === "") {
      return yield* new Input.InvalidInput({ field: "key", message: "key: --url needs an API key (--key or REDRIVE_KEY)" })
    }
    return Option.some({ url: (yield* decodeUrl(url.value)).replace(/\/+$/, ""), key: key.value })
  })

/**
 * The runtime's connection: DATABASE_URL and the DATABASE_* settings (Database.config), or the
 * embedded default as the runtime role (`redrive migrate up` first: it shares the
 * administrator's password with the login roles, as the demo does).
 */
export const runtimeDatabase = Effect.gen(function*() {
  const db = yield* DatabaseUrl.resolveDatabase
  if (!db.embedded) return yield* Database.config
  return { url: Roles.localRuntimeUrl(db.url), maxConnections: 4, applicationName: "redrive-cli" } satisfies Database.DatabaseConfig
})

/** An administrator's connection (migrations): DATABASE_URL as it is, or the embedded default. */
export const adminDatabase = DatabaseUrl.resolveDatabase
