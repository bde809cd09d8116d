/**
 * Vitest global setup: finds the test server (DATABASE_URL, else an embedded Postgres kept in
 * node_modules/.cache) and builds the migrated template every test file clones.
 */
import { Effect, Exit, Redacted, Scope } from "effect"
import { resolve } from "node:path"
import type { TestProject } from "vitest/node"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import { prepareTemplate } from "./Template.js"

import "./ProvidedContext.js"

export default async function setup(project: TestProject) {
  const scope = Effect.runSync(Scope.make())
  const program = Effect.gen(function*() {
    const fromEnv = process.env.DATABASE_URL
    const adminUrl = fromEnv
      ? Redacted.make(fromEnv)
      : (yield* EmbeddedPostgres.start({
        dataDir: resolve(process.env.REDRIVE_TEST_EMBEDDED_DIR ?? "node_modules/.cache/redrive/postgres-test"),
        port: Number(process.env.REDRIVE_TEST_EMBEDDED_PORT ?? 54330),
        fast: true
      }).pipe(Scope.extend(scope))).adminUrl
    const template = yield* prepareTemplate(adminUrl)
    return { adminUrl, template }
  })
  const { adminUrl, template } = await Effect.runPromise(program)
  project.provide("redriveAdminUrl", Redacted.value(adminUrl))
  project.provide("redriveTemplate", template)
  return async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
