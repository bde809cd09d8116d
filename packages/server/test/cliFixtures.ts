/** The `redrive` bin as a child process: run it, collect stdout/stderr and the exit code. */
import { Effect, Redacted } from "effect"
import { spawn } from "node:child_process"
import { createServer } from "node:net"
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

/** A port nobody listens on right now (the OS picks it; closed again before the server binds it). */
export const freePort = Effect.async<number>((resume) => {
  const probe = createServer()
  probe.listen(0, "127.0.0.1", () => {
    const address = probe.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    probe.close(() => resume(Effect.succeed(port)))
  })
})

export interface ServeChild {
  /** `http://127.0.0.1:<port>`, for --url. */
  readonly url: string
  /** What the server printed so far (stdout and stderr). */
  readonly output: () => string
  /** SIGTERM, then the exit code once it has shut down. */
  readonly stop: Effect.Effect<number | null>
}

/**
 * `redrive serve` as a child on a free port, once it says it listens (at most `startupMs`); the
 * scope's end kills it (SIGKILL) if `stop` has not ended it.
 */
export const serve = (options: {
  readonly databaseUrl: Redacted.Redacted
  readonly env?: Record<string, string>
  readonly startupMs?: number
  /** More flags after `serve --port … --host …` (e.g. `--cluster`). */
  readonly args?: ReadonlyArray<string>
}) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const { REDRIVE_KEY: _k, REDRIVE_URL: _u, ...inherited } = process.env
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", bin, "serve", "--port", String(port), "--host", "127.0.0.1", ...(options.args ?? [])], {
          env: { ...inherited, DATABASE_URL: Redacted.value(options.databaseUrl), ...options.env },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => (child.exitCode === null && child.signalCode === null ? void child.kill("SIGKILL") : undefined))
    )
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const exited = Effect.async<number | null>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
      child.once("exit", (code) => resume(Effect.succeed(code)))
    })
    const listening = Effect.async<void, Error>((resume) => {
      const check = () => {
        if (output.includes("redrive serve: listening on")) resume(Effect.void)
      }
      child.stdout.on("data", check)
      child.once("exit", (code) => resume(Effect.fail(new Error(`redrive serve exited (${code}) before listening:\n${output}`))))
      check()
    })
    yield* listening.pipe(
      Effect.timeoutFail({
        duration: options.startupMs ?? 90_000,
        onTimeout: () => new Error(`redrive serve did not listen in time:\n${output}`)
      }),
      Effect.orDie
    )
    return {
      url: `http://127.0.0.1:${port}`,
      output: () => output,
      stop: Effect.zipRight(Effect.sync(() => child.kill("SIGTERM")), exited)
    } satisfies ServeChild
  })
