/**
 * `redrive serve` (packages/server/src/bin/serve.ts) as a child process for the HTTP benches: on a
 * free port, against the database of `dbAdminUrl` as the runtime role, request logging off the
 * measured path. Resolves once /healthz answers; `stop` ends it with SIGTERM and waits.
 */
import { Roles } from "@redrive/database"
import { Redacted } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { freePort } from "./freePort.js"

const serveScript = fileURLToPath(new URL("../../packages/server/src/bin/serve.ts", import.meta.url))

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
