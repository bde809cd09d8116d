/**
 * The HTTP benches' server side: a fresh migrated database with an administrator's runtime (to seed
 * and to make API keys), and `redrive serve` (packages/server/src/bin/serve.ts) as a child process
 * on a free port, against that database as the runtime role, request logging off the measured path.
 */
import { NodeContext } from "@effect/platform-node"
import { Database, MigrationRunner, Roles } from "@redrive/database"
import { ApiKeys } from "@redrive/server"
import { Layer, ManagedRuntime, Redacted } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { freePort } from "./freePort.js"
import { freshDatabase } from "./freshDatabase.js"

const serveScript = fileURLToPath(new URL("../../packages/server/src/bin/serve.ts", import.meta.url))

/** Database `name` on the server of `adminUrl`, new and migrated; an administrator's runtime over it (dispose it). */
export const migratedDatabase = async (adminUrl: string, name: string) => {
  const dbAdminUrl = Redacted.make(await freshDatabase(adminUrl, name))
  const runtime = ManagedRuntime.make(
    ApiKeys.layer.pipe(
      Layer.provideMerge(Database.layer({ url: dbAdminUrl, maxConnections: 4, administrator: true })),
      Layer.merge(NodeContext.layer)
    )
  )
  await runtime.runPromise(MigrationRunner.up())
  return { dbAdminUrl, runtime }
}

/** Resolves once /healthz answers; `stop` ends the server with SIGTERM and waits. */
export const startServer = async (dbAdminUrl: Redacted.Redacted, cursorSecret: string) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", serveScript], {
    env: {
      ...process.env,
      DATABASE_URL: Redacted.value(Roles.localRuntimeUrl(dbAdminUrl)),
      REDRIVE_CURSOR_SECRET: cursorSecret,
      REDRIVE_HTTP_PORT: String(port),
      REDRIVE_LOG_LEVEL: "WARN"
    },
    stdio: ["ignore", "inherit", "inherit"]
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once("exit", r))
    child.kill("SIGTERM")
    await exited
  }
  const deadline = Date.now() + 90_000
  for (;;) {
    const ok = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)
    if (ok) break
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop()
      throw new Error("the server did not start")
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return { base, stop }
}
