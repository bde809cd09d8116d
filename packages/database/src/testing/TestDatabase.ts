/**
 * One database per test file, cloned from the migrated template and dropped afterwards, so
 * files run in parallel and re-run cleanly. Tests connect as the runtime role, as the library
 * does in production (the template setup gave the login roles the administrator's password).
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, Schedule } from "effect"
import * as Database from "../Database.js"
import { withDatabase } from "../DatabaseUrl.js"
import * as Roles from "../Roles.js"
import type { TenantSessions } from "../TenantSessions.js"
import { adminQuery, quoteIdent } from "./AdminClient.js"
import { scratchName } from "./Cleanup.js"
import "./ProvidedContext.js"

export class TestDatabaseInfo extends Context.Tag("@redrive/database/testing/TestDatabaseInfo")<TestDatabaseInfo, {
  readonly name: string
  /** This database, as the runtime role (`redrive_runtime`). */
  readonly url: Redacted.Redacted
  /** This database, as the administrator (for what only an administrator may do). */
  readonly adminDatabaseUrl: Redacted.Redacted
  /** The server's administrator, on its default database. */
  readonly adminUrl: Redacted.Redacted
}>() {}

/**
 * What the global setup provided (vitest's `inject`). `vitest` is imported on first use, not
 * when this module loads: a global-setup file imports these helpers too, and runs outside the
 * test workers, where loading `vitest` throws.
 */
const provided = Effect.map(Effect.promise(() => import("vitest")), ({ inject }) => ({
  adminUrl: Redacted.make(inject("redriveAdminUrl")),
  template: inject("redriveTemplate")
}))

/** The test server's administrator URL, from the global setup. */
export const adminUrl: Effect.Effect<Redacted.Redacted> = Effect.map(provided, (p) => p.adminUrl)

/**
 * A scoped database: created (from `template`, by default the one the global setup built, or
 * empty with `null`) and dropped with the scope. Its name carries this machine, pid and time, so
 * a later setup drops it if this process is killed before the scope closes (Cleanup.ts).
 */
export const scopedDatabase = (options: { readonly template?: string | null; readonly prefix?: string } = {}) =>
  Effect.gen(function*() {
    const { adminUrl: admin, template: injected } = yield* provided
    const template = options.template === undefined ? injected : options.template
    const name = scratchName(options.prefix ?? "redrive_test")
    const create = `create database ${quoteIdent(name)}${template ? ` template ${quoteIdent(template)}` : ""}`
    yield* Effect.acquireRelease(
      // Cloning fails while another session is briefly connected to the template: retry.
      adminQuery(admin, create).pipe(
        Effect.retry({ while: (e) => e.code === "55006", schedule: Schedule.spaced("100 millis"), times: 50 })
      ),
      () => adminQuery(admin, `drop database if exists ${quoteIdent(name)} with (force)`).pipe(Effect.ignore)
    )
    const adminDatabaseUrl = withDatabase(admin, name)
    return { name, url: Roles.localRuntimeUrl(adminDatabaseUrl), adminDatabaseUrl, adminUrl: admin }
  })

export type Services = TestDatabaseInfo | PgClient.PgClient | SqlClient.SqlClient | TenantSessions

/**
 * TestDatabaseInfo + the database layers (as the runtime role) for a fresh migrated database,
 * cloned from the template of the global setup (with a service's own migrations, when its
 * setup named them).
 *
 * TestClock: `it.effect` (and `layer(...)` without options) of `@effect/vitest` provide a
 * TestClock, on which time stands still until a test adjusts it: a Worker's polls, lease
 * renewals, retries' backoff and `Effect.sleep` never fire, and the test hangs until its
 * timeout. Tests that run Workers or wait on real time use `it.live`, or
 * `layer(TestDatabase.layer, { excludeTestServices: true })`.
 */
export const layer: Layer.Layer<Services, unknown> = Layer
  .unwrapScoped(
    Effect.map(scopedDatabase(), (info) =>
      Layer.merge(Layer.succeed(TestDatabaseInfo, info), Database.layer({ url: info.url, maxConnections: 10 })))
  )

/** The same, for an empty (unmigrated) database, as the administrator (who migrates). */
export const layerEmpty: Layer.Layer<Services, unknown> = Layer
  .unwrapScoped(
    Effect.map(scopedDatabase({ template: null, prefix: "redrive_empty" }), (info) =>
      Layer.merge(
        Layer.succeed(TestDatabaseInfo, info),
        Database.layer({ url: info.adminDatabaseUrl, maxConnections: 10, administrator: true })
      ))
  )
