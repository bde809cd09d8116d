/**
 * The demo as a new user runs it (`pnpm demo --serve`), as a child process on the test file's
 * database: the whole scenario, the operator step (a pause while another queue runs, a resume, a
 * drain completed once, each announced to a local endpoint that verifies the signature), then the
 * server on the demo's data with the admin key it prints.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Scratch, TestDatabase } from "@redrive/database/testing"
import { Effect, Redacted, Schedule } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { request } from "./serverProcess.js"

const demoScript = fileURLToPath(new URL("../src/bin/demo.ts", import.meta.url))

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "200 seconds" })("demo", (it) => {
  it.scoped("pnpm demo --serve: the scenario with its operator step, then the server with a working admin key", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const port = yield* Scratch.freePort
      const child = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", demoScript, "--serve", "--port", String(port)], {
        // The demo migrates as DATABASE_URL, then runs as the runtime role, as on a new machine.
        env: { ...process.env, DATABASE_URL: Redacted.value(info.adminDatabaseUrl) },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.on("data", (c: Buffer) => (output += c.toString()))
      child.stderr.on("data", (c: Buffer) => (output += c.toString()))
      const exited = Effect.async<number | string>((resume) => {
        if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
        child.once("exit", (code, signal) => resume(Effect.succeed(code ?? signal ?? -1)))
      })
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => child.kill("SIGTERM")).pipe(
          Effect.zipRight(exited.pipe(Effect.timeout("15 seconds"))),
          Effect.catchAll(() => Effect.sync(() => child.kill("SIGKILL")))
        )
      )
      const key = yield* Effect.suspend(() => {
        const m = /admin key \(printed once; earlier demo keys revoked\): (rdk_[A-Za-z0-9_-]{43})/.exec(output)
        return m === null ? Effect.fail("not yet") : Effect.succeed(m[1]!)
      }).pipe(
        Effect.retry({ schedule: Schedule.spaced("250 millis"), until: () => child.exitCode !== null }),
        Effect.timeoutFail({ duration: "150 seconds", onTimeout: () => "timeout" }),
        Effect.mapError((e) => new Error(`the demo did not start serving (${e}):\n${output}`))
      )

      // The operator step: every control change reached the endpoint, each one verified.
      for (const event of ["control.paused", "control.resumed", "control.drain_started", "control.drain_completed"]) {
        assert.match(output, new RegExp(`${event.replace(".", "\\.")}\\s+yes\\s+demo/demo\\.emails`), output)
      }
      assert.notMatch(output, /\sNO\s/, "an alert failed verification")
      assert.include(output, "the other queue kept running: 60 CRM syncs completed; the 200 emails: 200 waiting (paused), 0 running, 0 completed")
      assert.include(output, "all 200 emails completed")
      assert.match(output, /drained \(drain_completed_at [0-9T:.-]+Z\): 0 running/)
      const sql = yield* SqlClient.SqlClient
      const audit = yield* sql<{ action: string; actor: string }>`
        select action, actor from redrive.control_event where tenant_id = 'demo' and queue = 'demo.emails' order by id`
      assert.deepStrictEqual(audit.map((e) => e.action), ["pause", "resume", "drain", "drain_completed", "resume"])
      const completions = yield* sql<{ n: string }>`
        select count(*) as n from redrive.control_event where tenant_id = 'demo' and action = 'drain_completed'`
      assert.strictEqual(completions[0]!.n, "1", "drained exactly once")

      // The server on the demo's data.
      const baseUrl = `http://127.0.0.1:${port}`
      const page = yield* request(baseUrl, "/v1/dead-letters?tenantId=demo&limit=5", { key })
      assert.strictEqual(page.status, 200, page.text)
      const items = (page.json as { items: ReadonlyArray<{ tenantId: string }> }).items
      assert.isAbove(items.length, 0)
      assert.isTrue(items.every((i) => i.tenantId === "demo"))
      assert.strictEqual((yield* request(baseUrl, "/v1/dead-letters")).status, 401)
    }), 200_000)
})
