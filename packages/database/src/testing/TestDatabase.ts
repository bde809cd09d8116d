/**
 * One database per test file, cloned from the migrated template and dropped afterwards, so
 * files run in parallel and re-run cleanly.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, Schedule } from "effect"
import { inject } from "vitest"
import * as Database from "../Database.js"
import { withDatabase } from "../DatabaseUrl.js"
import { adminQuery, quoteIdent } from "./AdminClient.js"
import "./ProvidedContext.js"

export class TestDatabaseInfo extends Context.Tag("@redrive/database/testing/TestDatabaseInfo")<TestDatabaseInfo, {
  readonly name: string
  readonly url: Redacted.Redacted
  readonly adminUrl: Redacted.Redacted
}>() {}

export const adminUrl = () => Redacted.make(inject("redriveAdminUrl"))

const uniqueName = (prefix: string) => `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`

/** A scoped database: created (from `template`, or empty) and dropped with the scope. */
export const scopedDatabase = (options: { readonly template?: string | null; readonly prefix?: string } = {}) =>
  Effect.gen(function*() {
    const admin = adminUrl()
    const template = options.template === undefined ? inject("redriveTemplate") : options.template
    const name = uniqueName(options.prefix ?? "redrive_test")
    const create = `create database ${quoteIdent(name)}${template ? ` template ${quoteIdent(template)}` : ""}`
    yield* Effect.acquireRelease(
      // Cloning fails while another session is briefly connected to the template: retry.
      adminQuery(admin, create).pipe(
        Effect.retry({ while: (e) => e.code === "55006", schedule: Schedule.spaced("100 millis"), times: 50 })
      ),
      () => adminQuery(admin, `drop database if exists ${quoteIdent(name)} with (force)`).pipe(Effect.ignore)
    )
    return { name, url: withDatabase(admin, name), adminUrl: admin }
  })

/** TestDatabaseInfo + PgClient + SqlClient for a fresh migrated database. */
export const layer: Layer.Layer<TestDatabaseInfo | PgClient.PgClient | SqlClient.SqlClient, unknown> = Layer
  .unwrapScoped(
    Effect.map(scopedDatabase(), (info) =>
      Layer.merge(Layer.succeed(TestDatabaseInfo, info), Database.layer({ url: info.url, maxConnections: 10 })))
  )

/** The same, for an empty (unmigrated) database. */
export const layerEmpty: Layer.Layer<TestDatabaseInfo | PgClient.PgClient | SqlClient.SqlClient, unknown> = Layer
  .unwrapScoped(
    Effect.map(scopedDatabase({ template: null, prefix: "redrive_empty" }), (info) =>
      Layer.merge(Layer.succeed(TestDatabaseInfo, info), Database.layer({ url: info.url, maxConnections: 10 })))
  )
