/** The `redrive` bin as a child process: run it, collect stdout/stderr and the exit code. */
import { Effect, Redacted } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../src/bin/redrive.ts", import.meta.url))

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The parsed `--json` document on stdout; fails the test with the output when it is not JSON. */
export const json = <A>(result: CliResult): A => {
  try {
    // The document's shape is what the test asserts next; a wrong one fails there.
    return JSON.parse(result.stdout) as A
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`)
  }
}

/**
 * Runs `redrive …args` against `databaseUrl` (DATABASE_URL) with extra env. The child's
 * environment drops REDRIVE_URL/REDRIVE_KEY so a developer's shell cannot redirect a test.
 */
export const cli = (args: ReadonlyArray<string>, options: { readonly databaseUrl?: Redacted.Redacted; readonly env?: Record<string, string> } = {}) =>
  Effect.async<CliResult>((resume) => {
    const { REDRIVE_KEY: _k, REDRIVE_URL: _u, ...inherited } = process.env
    const child = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", bin, ...args], {
      env: {
        ...inherited,
        ...(options.databaseUrl !== undefined ? { DATABASE_URL: Redacted.value(options.databaseUrl) } : {}),
        ...options.env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Child processes start under tsx: a few seconds each on a loaded 2-core machine. */
export const timeout = 240_000
