/**
 * The test command itself: the suite's own vitest config, run in a child process over a fixture,
 * must exit non-zero when a test fails — against DATABASE_URL and against the embedded server —
 * so a red test can never land as a green build.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { inject } from "vitest"
import { Scratch } from "../src/testing/index.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const fixture = (name: string) => `packages/database/test/fixtures/test-command/${name}.fixture.ts`

/** Runs the suite's vitest config over one fixture file; resolves with the exit code and output. */
const runSuite = (include: string, env: NodeJS.ProcessEnv) =>
  Effect.async<{ readonly code: number; readonly output: string }>((resume) => {
    const child = execFile(
      process.execPath,
      [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--config", join(root, "vitest.config.ts")],
      { cwd: root, env: { ...env, REDRIVE_TEST_INCLUDE: include, CI: "true", NO_COLOR: "1" }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resume(Effect.succeed({ code, output: `${stdout}${stderr}` }))
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const withoutDatabaseUrl = (): NodeJS.ProcessEnv => {
  const { DATABASE_URL: _ignored, ...env } = process.env
  return env
}

/** The failing fixture makes the command exit non-zero, the passing one exit 0. */
const exitCodes = (env: NodeJS.ProcessEnv) =>
  Effect.gen(function*() {
    const failing = yield* runSuite(fixture("failing"), env)
    assert.notStrictEqual(failing.code, 0, failing.output)
    assert.match(failing.output, /1 failed/)
    const passing = yield* runSuite(fixture("passing"), env)
    assert.strictEqual(passing.code, 0, passing.output)
    assert.match(passing.output, /1 passed/)
  })

describe("the test command", () => {
  it.effect("exits non-zero when a test fails, against DATABASE_URL", () =>
    exitCodes({ ...process.env, DATABASE_URL: inject("redriveAdminUrl") }), { timeout: 120_000 })

  it.effect("exits non-zero when a test fails, against the embedded server", () =>
    Effect.gen(function*() {
      // A fresh embedded server of its own: initdb, start, run the fixture, stop.
      const dir = yield* Scratch.directory("redrive-test-command")
      yield* exitCodes({
        ...withoutDatabaseUrl(),
        REDRIVE_TEST_EMBEDDED_DIR: join(dir, "postgres"),
        REDRIVE_TEST_EMBEDDED_PORT: String(yield* Scratch.freePort)
      })
    }).pipe(Effect.scoped), { timeout: 120_000 })
})

describe("importing Redrive", () => {
  it.effect("installs no process exit or signal hook", () =>
    Effect.gen(function*() {
      // A fresh process: count the process's listeners, import every public module and the test
      // helpers, count again. A hook here is what once overwrote the test command's exit code.
      const modules = [
        "packages/database/src/index.ts",
        // testing/index.ts needs vitest's worker state (inject), so only its process-level parts here
        "packages/database/src/testing/Template.ts",
        "packages/database/src/testing/globalSetup.ts",
        "packages/jobs/src/index.ts",
        "packages/server/src/index.ts"
      ].map((m) => JSON.stringify(new URL(m, `file://${root}`).href))
      const script = `
        const events = ["exit", "beforeExit", "SIGINT", "SIGTERM", "SIGHUP", "uncaughtException", "unhandledRejection"]
        const count = () => Object.fromEntries(events.map((e) => [e, process.listenerCount(e)]))
        const before = count()
        for (const m of [${modules.join(",")}]) await import(m)
        console.log(JSON.stringify({ before, after: count() }))`
      const result = yield* Effect.async<{ readonly before: unknown; readonly after: unknown }, Error>((resume) => {
        execFile(
          process.execPath,
          ["--conditions=@redrive/source", "--import", "tsx", "--input-type=module", "-e", script],
          { cwd: root, timeout: 60_000 },
          (error, stdout, stderr) =>
            resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.try(() => JSON.parse(stdout.trim().split("\n").pop()!)))
        )
      })
      assert.deepStrictEqual(result.after, result.before)
    }), { timeout: 90_000 })
})
