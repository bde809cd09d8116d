/**
 * A migrated template database, named after the checksum of the migration files, so each
 * test file can get its own database with a cheap CREATE DATABASE … TEMPLATE. A template is
 * built under a temporary name and renamed when complete, so a half-built one is never used.
 *
 * A service's suite adds its own migration sources (applied after Redrive's, as the
 * administrator); their files count in the name too, so its template and Redrive's differ and
 * live side by side on one server. Every setup marks the template it uses and drops stale ones
 * (see Cleanup.ts).
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Redacted, Schema } from "effect"
import { createHash } from "node:crypto"
import * as Database from "../Database.js"
import { withDatabase } from "../DatabaseUrl.js"
import { MigrationRefused } from "../migrations/MigrationError.js"
import { loadDirectory } from "../migrations/MigrationFile.js"
import * as MigrationRunner from "../migrations/MigrationRunner.js"
import * as Roles from "../Roles.js"
import { adminQuery, type AdminSession, adminSession, quoteIdent } from "./AdminClient.js"
import * as Cleanup from "./Cleanup.js"

/** The template's migrations did not finish in time. */
export class TemplateTimeout extends Schema.TaggedError<TemplateTimeout>()("Redrive/TemplateTimeout", {
  database: Schema.String,
  message: Schema.String
}) {}

export interface TemplateOptions {
  /** A service's own migration sources, applied in this order after Redrive's. */
  readonly migrations?: ReadonlyArray<MigrationRunner.Source>
  /** Dropping stale templates and databases of dead runs; `false`: never. */
  readonly cleanup?: Cleanup.CleanupOptions | false
}

/** Redrive's source first, then the service's; a source named twice (or "redrive") is refused. */
const sourcesOf = (options: TemplateOptions) =>
  Effect.gen(function*() {
    const redrive: MigrationRunner.Source = {
      source: MigrationRunner.redriveSource,
      directory: yield* MigrationRunner.directory
    }
    const sources = [redrive, ...(options.migrations ?? [])]
    const seen = new Set<string>()
    for (const { source } of sources) {
      if (seen.has(source)) {
        return yield* new MigrationRefused({
          file: source,
          reason: "invalid_name",
          message: `migration source ${JSON.stringify(source)} is given twice (Redrive's is always applied)`
        })
      }
      seen.add(source)
    }
    return sources as ReadonlyArray<MigrationRunner.Source>
  })

/**
 * `redrive_tpl_` and the first 16 hex digits of a digest over every source's files. With
 * Redrive's source alone the digest is the one of earlier versions (so their templates are reused).
 */
export const templateName = (sources: ReadonlyArray<MigrationRunner.Source>) =>
  Effect.gen(function*() {
    const parts: Array<string> = []
    for (const [i, { directory, source }] of sources.entries()) {
      const files = yield* loadDirectory(directory)
      const lines = files.map((f) => `${f.file}:${f.checksum}`).join("\n")
      parts.push(i === 0 ? lines : `\n[${source}]\n${lines}`)
    }
    const digest = createHash("sha256").update(parts.join("")).digest("hex")
    return `${Cleanup.templatePrefix}${digest.slice(0, 16)}`
  })

/**
 * The name of a migrated template with every source applied, built unless it exists, marked
 * used; then stale databases are dropped (unless `cleanup: false`). Login roles get the
 * administrator's password (tests log in as the runtime and tenant roles the migrations created).
 */
export const prepareTemplate = (adminUrl: Redacted.Redacted, options: TemplateOptions = {}) =>
  Effect.gen(function*() {
    const sources = yield* sourcesOf(options)
    const name = yield* templateName(sources)
    const existed = yield* underLock(adminUrl, (session) =>
      Effect.gen(function*() {
        const found = yield* session.query("select 1 from pg_database where datname = $1", [name])
        // Marked under the lock, before anyone's cleanup can find it stale.
        if (found.length > 0) yield* Cleanup.markUsed(session, name)
        return found.length > 0
      }))
    if (!existed) yield* buildTemplate(adminUrl, name, sources)
    yield* Roles.shareAdminPassword(adminUrl).pipe(
      Effect.provide(Database.layer({ url: adminUrl, maxConnections: 1, administrator: true })),
      Effect.scoped
    )
    if (options.cleanup !== false) {
      const dropped = yield* underLock(adminUrl, (session) => Cleanup.run(session, { ...options.cleanup, keep: [name] }))
      if (dropped.length > 0) yield* Effect.logDebug(`dropped stale test databases: ${dropped.join(", ")}`)
    }
    return name
  }).pipe(Effect.provide(NodeContext.layer))

const underLock = <A, E>(
  adminUrl: Redacted.Redacted,
  f: (session: AdminSession) => Effect.Effect<A, E>
) => Effect.scoped(Effect.flatMap(adminSession(adminUrl), (session) => Cleanup.withLock(session, f(session))))

const buildTemplate = (adminUrl: Redacted.Redacted, name: string, sources: ReadonlyArray<MigrationRunner.Source>) =>
  Effect.gen(function*() {
    const building = Cleanup.scratchName("redrive_tplbuild")
    yield* adminQuery(adminUrl, `create database ${quoteIdent(building)}`)
    yield* Effect.forEach(sources, (source) => MigrationRunner.up(source), { discard: true }).pipe(
      Effect.provide(Database.layer({ url: withDatabase(adminUrl, building), maxConnections: 2, administrator: true })),
      Effect.scoped,
      Effect.timeoutFail({
        duration: "2 minutes",
        onTimeout: () =>
          new TemplateTimeout({ database: building, message: `migrating the test template ${building} took over 2 minutes` })
      }),
      Effect.onError(() => Effect.ignore(adminQuery(adminUrl, `drop database if exists ${quoteIdent(building)} with (force)`)))
    )
    yield* underLock(adminUrl, (session) =>
      session.query(`alter database ${quoteIdent(building)} rename to ${quoteIdent(name)}`).pipe(
        // Another run may have finished the same template first: keep theirs.
        Effect.catchTag("Redrive/AdminError", (e) =>
          e.code === "42P04"
            ? session.query(`drop database if exists ${quoteIdent(building)} with (force)`)
            : Effect.fail(e)),
        Effect.zipRight(Cleanup.markUsed(session, name))
      ))
  })
