/**
 * The CLI's cluster flags as processes: `redrive worker --cluster` and `redrive serve --cluster`
 * each join the database's cluster as a runner at REDRIVE_RUNNER_HOST:REDRIVE_RUNNER_PORT, and
 * leave it (their `cluster_runners` row deleted) when SIGTERM stops them with exit 0.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Redacted, Schedule } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { freePort, serve } from "./cliFixtures.js"
import { cursorSecret } from "./serverProcess.js"

const bin = fileURLToPath(new URL("../src/bin/redrive.ts", import.meta.url))

const addresses = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ address: string }>`select address from cluster_runners`)
  .pipe(Effect.map((rows) => rows.map((r) => r.address).sort()))

/** Retries `query` until `done` holds, at most 60 s (children start under tsx on a loaded machine). */
const eventually = <A, E, R>(query: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  query.pipe(
    Effect.filterOrFail(done, () => "not yet" as const),
    Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 240 })
  )

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "150 seconds" })("--cluster", (it) => {
  it.scoped("worker --cluster and serve --cluster register as runners and deregister on SIGTERM", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const [workerPort, servePort] = [yield* freePort, yield* freePort]
      const common = { REDRIVE_RUNNER_HOST: "127.0.0.1", SHARDS_PER_GROUP: "30", REDRIVE_CURSOR_SECRET: cursorSecret }
      const { REDRIVE_KEY: _k, REDRIVE_URL: _u, ...inherited } = process.env
      const worker = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", bin, "worker", "--cluster"], {
            env: { ...inherited, ...common, DATABASE_URL: Redacted.value(info.url), REDRIVE_RUNNER_PORT: String(workerPort) },
            stdio: ["ignore", "pipe", "pipe"]
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null ? void child.kill("SIGKILL") : undefined)
      )
      let workerOutput = ""
      worker.stdout.on("data", (chunk: Buffer) => (workerOutput += chunk.toString()))
      worker.stderr.on("data", (chunk: Buffer) => (workerOutput += chunk.toString()))
      const workerExited = Effect.async<number | null>((resume) => {
        if (worker.exitCode !== null || worker.signalCode !== null) return resume(Effect.succeed(worker.exitCode))
        worker.once("exit", (code) => resume(Effect.succeed(code)))
      })
      const server = yield* serve({ databaseUrl: info.url, args: ["--cluster"], env: { ...common, REDRIVE_RUNNER_PORT: String(servePort) } })
      assert.include(server.output(), "a cluster runner")

      const both = [`127.0.0.1:${servePort}`, `127.0.0.1:${workerPort}`].sort()
      yield* eventually(addresses, (a) => a.length === 2).pipe(
        Effect.mapError(() => new Error(`runners did not register:\n${workerOutput}\n${server.output()}`))
      )
      assert.deepStrictEqual(yield* addresses, both)
      assert.include(workerOutput, "a cluster runner")

      worker.kill("SIGTERM")
      assert.strictEqual(yield* workerExited, 0, workerOutput)
      assert.deepStrictEqual(yield* addresses, [`127.0.0.1:${servePort}`])
      assert.strictEqual(yield* server.stop, 0, server.output())
      assert.deepStrictEqual(yield* addresses, [])
    }))
})
