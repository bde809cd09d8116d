/**
 * Vitest global setup: finds the test server (DATABASE_URL, else an embedded Postgres kept in
 * node_modules/.cache) and builds the migrated template every test file clones. The default
 * export is Redrive's own; a service that tests against Redrive makes its own with `globalSetup`:
 *
 * ```ts
 * // test/globalSetup.ts, named in the service's vitest config (`test.globalSetup`)
 * import { globalSetup } from "@redrive/database/testing"
 * import { fileURLToPath } from "node:url"
 *
 * export default globalSetup({
 *   migrations: [{ source: "billing", directory: fileURLToPath(new URL("../migrations", import.meta.url)) }]
 * })
 * ```
 *
 * Test files then use `TestDatabase.layer` (a database per file, cloned from that template).
 * Note that `it.effect` runs on a TestClock, on which a Worker's polls and leases never
 * advance: see `TestDatabase.layer`.
 */
import { Config, Effect, Exit, Option, Redacted, Scope } from "effect"
import { resolve } from "node:path"
import type { TestProject } from "vitest/node"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import type * as MigrationRunner from "../migrations/MigrationRunner.js"
import type { CleanupOptions } from "./Cleanup.js"
import { prepareTemplate } from "./Template.js"

import "./ProvidedContext.js"

export interface Options {
  /** The service's own migration sources, applied after Redrive's to the template, in this order. */
  readonly migrations?: ReadonlyArray<MigrationRunner.Source>
  /** The server; default DATABASE_URL, else the embedded one. */
  readonly adminUrl?: Redacted.Redacted
  /**
   * The embedded server's data directory (default `node_modules/.cache/redrive/postgres-test`,
   * from the working directory). REDRIVE_TEST_EMBEDDED_DIR overrides it.
   */
  readonly embeddedDir?: string
  /** The embedded server's port (default 54330). REDRIVE_TEST_EMBEDDED_PORT overrides it. */
  readonly embeddedPort?: number
  /** Dropping stale templates and databases of killed runs (default: after 24 h / 10 min); `false`: never. */
  readonly cleanup?: CleanupOptions | false
}

/** What the setup hands the test files (`inject("redriveAdminUrl")`, `inject("redriveTemplate")`). */
export interface Prepared {
  readonly adminUrl: Redacted.Redacted
  readonly template: string
}

const serverUrl = (options: Options) =>
  Effect.gen(function*() {
    if (options.adminUrl !== undefined) return options.adminUrl
    const fromEnv = yield* Config.option(Config.string("DATABASE_URL"))
    if (Option.isSome(fromEnv) && fromEnv.value !== "") return Redacted.make(fromEnv.value)
    const dataDir = yield* Config.string("REDRIVE_TEST_EMBEDDED_DIR").pipe(
      Config.withDefault(options.embeddedDir ?? "node_modules/.cache/redrive/postgres-test")
    )
    const port = yield* Config.port("REDRIVE_TEST_EMBEDDED_PORT").pipe(Config.withDefault(options.embeddedPort ?? 54330))
    // The embedded server stays up for the scope: the whole run.
    const server = yield* EmbeddedPostgres.start({ dataDir: resolve(dataDir), port, fast: true })
    return server.adminUrl
  })

/** The server and its migrated template; an embedded server started here stops with the scope. */
export const prepare = (options: Options = {}) =>
  Effect.gen(function*() {
    const adminUrl = yield* serverUrl(options)
    const template = yield* prepareTemplate(adminUrl, {
      ...(options.migrations ? { migrations: options.migrations } : {}),
      ...(options.cleanup !== undefined ? { cleanup: options.cleanup } : {})
    })
    return { adminUrl, template } satisfies Prepared
  })

/** A vitest global-setup function (the default export of a `globalSetup` file) for these options. */
export const globalSetup = (options: Options = {}) => async (project: TestProject): Promise<() => Promise<void>> => {
  const scope = Effect.runSync(Scope.make())
  const prepared = await Effect.runPromise(
    Scope.extend(prepare(options), scope).pipe(Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
  )
  project.provide("redriveAdminUrl", Redacted.value(prepared.adminUrl))
  project.provide("redriveTemplate", prepared.template)
  return async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Redrive's own suites. */
export default globalSetup()
