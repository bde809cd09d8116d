/**
 * `redrive migrate up|status [--source NAME --dir PATH]`: the migration runner on DATABASE_URL as
 * an administrator (or the embedded default). Without --source, Redrive's own migrations; with
 * it, a service's, kept under its source name (apply Redrive's first).
 */
import { Command, Options } from "@effect/cli"
import { Database, Input, MigrationRunner, Roles } from "@redrive/database"
import { Effect, Option, Redacted } from "effect"
import { resolve } from "node:path"
import * as Connection from "../Connection.js"
import * as Output from "../Output.js"
import { reported } from "../Run.js"

const options = {
  json: Connection.json,
  source: Options.text("source").pipe(Options.withDescription("A service's migration source name (with --dir)."), Options.optional),
  dir: Options.directory("dir").pipe(Options.withDescription("The directory of that source's .sql files (with --source)."), Options.optional)
}

const sourceOf = (o: { readonly source: Option.Option<string>; readonly dir: Option.Option<string> }) =>
  Option.isSome(o.source) !== Option.isSome(o.dir)
    ? Effect.fail(new Input.InvalidInput({ field: Option.isSome(o.source) ? "dir" : "source", message: "--source and --dir go together" }))
    : Effect.succeed(
      Option.isSome(o.source) && Option.isSome(o.dir) ? { source: o.source.value, directory: resolve(o.dir.value) } : {}
    )

const describe = (url: Redacted.Redacted, embedded: boolean) => {
  const u = new URL(Redacted.value(url))
  return `${embedded ? "embedded " : ""}postgres://${u.hostname}:${u.port || 5432}${u.pathname}`
}

/** Runs `body` on an administrator's connection to the resolved database. */
const asAdministrator = <A, E, R>(body: (db: { readonly url: Redacted.Redacted; readonly embedded: boolean }) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const db = yield* Connection.adminDatabase
    return yield* body(db).pipe(
      Effect.provide(Database.layer({ url: db.url, maxConnections: 2, applicationName: "redrive-migrate", administrator: true }))
    )
  }).pipe(Effect.scoped)

const up = Command.make("up", options, (o) =>
  asAdministrator((db) =>
    Effect.gen(function*() {
      const from = yield* sourceOf(o)
      const started = Date.now()
      const applied = yield* MigrationRunner.up(from)
      // The embedded server is a local one: its login roles share the administrator's password.
      if (db.embedded) yield* Roles.shareAdminPassword(db.url)
      const result = {
        database: describe(db.url, db.embedded),
        applied: applied.map((f) => f.file),
        tookMs: Date.now() - started
      }
      yield* Output.print(o.json, result, () => [
        `database: ${result.database}`,
        applied.length === 0
          ? "up to date: nothing to apply"
          : `applied ${applied.length} migration(s) in ${result.tookMs} ms: ${result.applied.join(", ")}`
      ])
    })
  ).pipe(reported(o.json))).pipe(Command.withDescription("Apply the pending migrations (under an advisory lock; safe to run from several processes)."))

const status = Command.make("status", options, (o) =>
  asAdministrator((db) =>
    Effect.gen(function*() {
      const rows = yield* MigrationRunner.status(yield* sourceOf(o))
      const pending = rows.filter((r) => r.state === "pending").length
      const result = { database: describe(db.url, db.embedded), applied: rows.length - pending, pending, migrations: rows }
      yield* Output.print(o.json, result, () => [
        `database: ${result.database}`,
        ...Output.table(
          [{ header: "file" }, { header: "state" }, { header: "applied at" }, { header: "took", align: "right" }],
          rows.map((r) => [r.file, r.state, Output.when(r.appliedAt), r.durationMs === null ? "" : `${r.durationMs} ms`]),
          ""
        ),
        `${result.applied} applied, ${pending} pending`
      ])
    })
  ).pipe(reported(o.json))).pipe(Command.withDescription("List applied and pending migrations."))

export const command = Command.make("migrate").pipe(
  Command.withDescription("Apply or list database migrations (as an administrator: DATABASE_URL, or the embedded default)."),
  Command.withSubcommands([up, status])
)
