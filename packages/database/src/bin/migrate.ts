#!/usr/bin/env node
/**
 * `pnpm migrate up | status [--source NAME --dir PATH]`: migrates the database at DATABASE_URL, or
 * the embedded default. Without options, Redrive's own migrations; with them, a service's own
 * migrations, kept under their source name (apply Redrive's first: a service's may use its roles).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Redacted, Schema } from "effect"
import { resolve } from "node:path"
import * as Database from "../Database.js"
import { resolveDatabase } from "../DatabaseUrl.js"
import * as MigrationRunner from "../migrations/MigrationRunner.js"
import * as Roles from "../Roles.js"

const Command = Schema.Literal("up", "status")

const describe = (url: Redacted.Redacted, embedded: boolean) => {
  const u = new URL(Redacted.value(url))
  return `${embedded ? "embedded " : ""}postgres://${u.hostname}:${u.port || 5432}${u.pathname}`
}

export const printStatus = (from: Partial<MigrationRunner.Source>) => Effect.gen(function*() {
  const rows = yield* MigrationRunner.status(from)
  const width = Math.max(...rows.map((r) => r.file.length), 4)
  yield* Console.log(`${"file".padEnd(width)}  state    applied at`)
  for (const r of rows) {
    const at = r.appliedAt ? `${r.appliedAt.toISOString()} (${r.durationMs} ms)` : "-"
    yield* Console.log(`${r.file.padEnd(width)}  ${r.state.padEnd(7)}  ${at}`)
  }
  const pending = rows.filter((r) => r.state === "pending").length
  yield* Console.log(`${rows.length - pending} applied, ${pending} pending`)
})

const usage = "usage: migrate up|status [--source NAME --dir PATH]"

/** `--source NAME --dir PATH`, both or neither. */
const sourceOptions = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const options: Record<string, string> = {}
    for (let i = 0; i < args.length; i += 2) {
      const [flag, value] = [args[i], args[i + 1]]
      if ((flag !== "--source" && flag !== "--dir") || value === undefined) {
        return yield* Effect.fail(new Error(`${usage} (got ${JSON.stringify(args.join(" "))})`))
      }
      options[flag.slice(2)] = value
    }
    const { source, dir } = options
    if ((source === undefined) !== (dir === undefined)) {
      return yield* Effect.fail(new Error(`${usage}: --source and --dir go together`))
    }
    return source !== undefined && dir !== undefined ? { source, directory: resolve(dir) } : {}
  })

const program = Effect.gen(function*() {
  const command = yield* Schema.decodeUnknown(Command)(process.argv[2] ?? "status").pipe(
    Effect.mapError(() => new Error(`${usage} (got ${JSON.stringify(process.argv[2])})`))
  )
  const from = yield* sourceOptions(process.argv.slice(3))
  const db = yield* resolveDatabase
  yield* Console.log(`database: ${describe(db.url, db.embedded)}`)
  const run = command === "up"
    ? Effect.gen(function*() {
      const started = Date.now()
      const applied = yield* MigrationRunner.up(from)
      // The embedded server is a local one: its login roles share the administrator's password.
      if (db.embedded) yield* Roles.shareAdminPassword(db.url)
      yield* Console.log(
        applied.length === 0
          ? "up to date: nothing to apply"
          : `applied ${applied.length} migration(s) in ${Date.now() - started} ms: ${applied.map((f) => f.file).join(", ")}`
      )
    })
    : printStatus(from)
  yield* run.pipe(Effect.provide(Database.layer({ url: db.url, maxConnections: 2, administrator: true })))
})

program.pipe(Effect.scoped, Effect.provide(Layer.mergeAll(NodeContext.layer)), NodeRuntime.runMain({ disableErrorReporting: false }))
