/**
 * The CLI's cluster flags as processes: `redrive worker --cluster` and `redrive serve --cluster`
 * each join the database's cluster as a runner at REDRIVE_RUNNER_HOST:REDRIVE_RUNNER_PORT, and
 * leave it (their `cluster_runners` row deleted) when SIGTERM stops them with exit 0. Both also
 * run maintenance (the worker always, the server with --with-worker): the advisory-lock election
 * still picks one leader among the runners, and the other takes over when the leader stops.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Maintenance } from "@redrive/jobs"
import { Effect, Redacted, Schedule } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { freePort, serve, timeout } from "./cliFixtures.js"
import { cursorSecret } from "./serverProcess.js"

const bin = fileURLToPath(new URL("../src/bin/redrive.ts", import.meta.url))

/** Sessions holding maintenance's leader lock (Maintenance.leaderLockKey): never more than one. */
const leaders = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ n: number }>`select count(*)::int as n from pg_locks
      where locktype = 'advisory' and granted and classid = ${Maintenance.leaderLockKey[0]} and objid = ${Maintenance.leaderLockKey[1]}
        and database = (select oid from pg_database where datname = current_database())`,
    (rows) => rows[0]!.n
  ))

const leads = /this process leads/g

const addresses = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ address: string }>`select address from cluster_runners`)
  .pipe(Effect.map((rows) => rows.map((r) => r.address).sort()))

/** Retries `query` until `done` holds, at most 60 s (children start under tsx on a loaded machine). */
const eventually = <A, E, R>(query: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  query.pipe(
    Effect.filterOrFail(done, () => "not yet" as const),
    Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 240 }),
    Effect.mapError(() => new Error("condition not met within 60 s"))
  )

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "150 seconds" })("--cluster", (it) => {
  it.scoped("worker --cluster and serve --cluster --with-worker: two runners, one maintenance leader, deregistered on SIGTERM", () =>
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
      const server = yield* serve({ databaseUrl: info.url, args: ["--cluster", "--with-worker"], env: { ...common, REDRIVE_RUNNER_PORT: String(servePort) } })
      assert.include(server.output(), "a cluster runner")

      const both = [`127.0.0.1:${servePort}`, `127.0.0.1:${workerPort}`].sort()
      yield* eventually(addresses, (a) => a.length === 2).pipe(
        Effect.mapError(() => new Error(`runners did not register:\n${workerOutput}\n${server.output()}`))
      )
      assert.deepStrictEqual(yield* addresses, both)
      assert.include(workerOutput, "a cluster runner")
      // Two runners, both in maintenance's election: one leader all along (the worker started first).
      yield* eventually(leaders, (n) => n === 1)
      for (let i = 0; i < 4; i++) {
        yield* Effect.sleep("1 second")
        assert.strictEqual(yield* leaders, 1)
      }
      const elected = (workerOutput.match(leads)?.length ?? 0) + (server.output().match(leads)?.length ?? 0)
      assert.strictEqual(elected, 1, `${workerOutput}\n${server.output()}`)

      worker.kill("SIGTERM")
      assert.strictEqual(yield* workerExited, 0, workerOutput)
      assert.deepStrictEqual(yield* addresses, [`127.0.0.1:${servePort}`])
      // Whoever led, the server leads now, alone (the election runs every 2 s).
      yield* eventually(Effect.succeed(0), () => /this process leads/.test(server.output()))
      assert.strictEqual(yield* leaders, 1)
      assert.strictEqual(yield* server.stop, 0, server.output())
      assert.deepStrictEqual(yield* addresses, [])
    }), timeout)
})
