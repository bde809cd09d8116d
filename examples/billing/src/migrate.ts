/**
 * `node dist/migrate.js`: Redrive's migrations, then the billing service's (source "billing"),
 * on DATABASE_URL as an administrator (migrations create roles and policies; the service itself
 * connects as redrive_runtime).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Database, MigrationRunner } from "@redrive/database"
import { Config, Console, Effect, Layer } from "effect"
import { source } from "./migrations.js"

const program = Effect.gen(function*() {
  const redrive = yield* MigrationRunner.up()
  const billing = yield* MigrationRunner.up(source)
  yield* Console.log(`redrive: ${redrive.length} applied; billing: ${billing.length} applied`)
})

const AdminDatabase = Layer.unwrapEffect(
  Effect.map(Config.redacted("DATABASE_URL"), (url) => Database.layer({ url, maxConnections: 2, administrator: true }))
)

program.pipe(Effect.provide(Layer.merge(AdminDatabase, NodeContext.layer)), NodeRuntime.runMain)
