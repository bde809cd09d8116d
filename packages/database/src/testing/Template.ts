/**
 * A migrated template database, named after the checksum of the migration files, so each
 * test file can get its own database with a cheap CREATE DATABASE … TEMPLATE. A template is
 * built under a temporary name and renamed when complete, so a half-built one is never used.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Redacted } from "effect"
import { createHash } from "node:crypto"
import * as Database from "../Database.js"
import { withDatabase } from "../DatabaseUrl.js"
import { loadDirectory } from "../migrations/MigrationFile.js"
import * as MigrationRunner from "../migrations/MigrationRunner.js"
import * as Roles from "../Roles.js"
import { adminQuery, quoteIdent } from "./AdminClient.js"

export const prepareTemplate = (adminUrl: Redacted.Redacted) =>
  Effect.tap(buildTemplate(adminUrl), () =>
    // Tests log in as the runtime and tenant roles the template's migrations created.
    Roles.shareAdminPassword(adminUrl).pipe(
      Effect.provide(Database.layer({ url: adminUrl, maxConnections: 1, administrator: true })),
      Effect.scoped
    ))

const buildTemplate = (adminUrl: Redacted.Redacted) =>
  Effect.gen(function*() {
    const files = yield* loadDirectory(yield* MigrationRunner.directory)
    const digest = createHash("sha256").update(files.map((f) => `${f.file}:${f.checksum}`).join("\n")).digest("hex")
    const name = `redrive_tpl_${digest.slice(0, 16)}`
    const exists = yield* adminQuery(adminUrl, `select 1 from pg_database where datname = '${name}'`)
    if (exists.length > 0) return name
    const building = `redrive_tplbuild_${process.pid}_${Date.now().toString(36)}`
    yield* adminQuery(adminUrl, `create database ${quoteIdent(building)}`)
    yield* MigrationRunner.up().pipe(
      Effect.provide(Database.layer({ url: withDatabase(adminUrl, building), maxConnections: 2, administrator: true })),
      Effect.scoped,
      Effect.timeoutFail({
        duration: "2 minutes",
        onTimeout: () => new Error(`migrating the test template ${building} took over 2 minutes`)
      }),
      Effect.onError(() => Effect.ignore(adminQuery(adminUrl, `drop database if exists ${quoteIdent(building)} with (force)`)))
    )
    // Another run may have finished the same template first: keep theirs.
    yield* adminQuery(adminUrl, `alter database ${quoteIdent(building)} rename to ${quoteIdent(name)}`).pipe(
      Effect.catchTag("AdminError", (e) =>
        e.code === "42P04"
          ? adminQuery(adminUrl, `drop database if exists ${quoteIdent(building)} with (force)`)
          : Effect.fail(e))
    )
    return name
  }).pipe(Effect.provide(NodeContext.layer))
