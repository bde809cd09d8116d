/**
 * `pnpm demo --serve`: after the scenario, the demo's data stays and Redrive's server runs on it
 * (web console, HTTP API, RPC, docs, metrics) with a worker for the demo's job types, so replays made
 * through the console or the API run. It prints the console's URL and a fresh admin key (earlier demo keys are revoked), and runs
 * until Ctrl-C.
 */
import { type Database, Ids } from "@redrive/database"
import type { JobDefinition } from "@redrive/jobs"
import { Console, Effect, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as ApiKeys from "../auth/ApiKeys.js"
import * as Server from "../Server.js"
import * as Apis from "./apis.js"
import { definitions, tenant } from "./definitions.js"
import { handlers } from "./handlers.js"

const keyName = "demo-admin"

export interface ServeDemoOptions {
  readonly database: Database.DatabaseConfig
  readonly port: number
}

export const serveDemo = (options: ServeDemoOptions) =>
  Effect.gen(function*() {
    const keys = yield* ApiKeys.ApiKeys
    for (const old of yield* keys.list()) {
      if (old.name === keyName && old.revokedAt === null) yield* keys.revoke({ id: old.id })
    }
    const admin = yield* keys.create({ name: keyName })
    // The demo's fake APIs, built once and given to each handler: the server takes handlers that
    // need nothing more.
    const apis = yield* Layer.build(Apis.layer)
    const needingApis: ReadonlyArray<JobDefinition.JobHandler<Layer.Layer.Success<typeof Apis.layer>>> = handlers
    const served: ReadonlyArray<JobDefinition.JobHandler<never>> = needingApis.map((h) => ({
      definition: h.definition,
      run: (payload, ctx) => Effect.provide(h.run(payload, ctx), apis)
    }))
    const env = yield* Server.httpConfig
    const http = { ...env, port: options.port }
    yield* Layer.build(
      Server.layer({
        http,
        redrive: {
          database: options.database,
          definitions,
          // Cursors of this session only: a fresh signing secret per run.
          cursorSecret: Redacted.make(randomBytes(32).toString("base64url"))
        },
        worker: { handlers: served, concurrency: 50, batchSize: 50 }
      })
    )
    const url = `http://${http.host}:${http.port}`
    yield* Console.log([
      "",
      `Redrive server on the demo's data: ${url}  (API ${url}/v1, docs ${url}/docs, RPC ${url}/rpc, metrics ${url}/metrics)`,
      `  web console: ${url}/  (sign in with the admin key below)`,
      `  admin key (printed once; earlier demo keys revoked): ${admin.secret}`,
      `  curl -H "Authorization: Bearer ${admin.secret}" "${url}/v1/dead-letters?tenantId=${Ids.TenantId.make(tenant)}&limit=5"`,
      `  npx -y pnpm@10.34.8 redrive --url ${url} --key ${admin.secret} dlq groups`,
      "  Ctrl-C stops it."
    ].join("\n"))
    return yield* Effect.never
  }).pipe(Effect.scoped)
