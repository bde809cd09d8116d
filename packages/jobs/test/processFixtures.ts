/** Child processes for process-level tests: spawn a worker-only service, read its output, signal it. */
import { Effect, Redacted, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const workerScript = fileURLToPath(new URL("./fixtures/workerProcess.ts", import.meta.url))

export interface WorkerProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** Everything the process printed so far. */
  readonly output: () => string
  /** Resolves when the output matches (at most `timeoutMs`); fails with the output otherwise. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Effect.Effect<number, Error>
  /** Resolves with the exit code (a signal name when killed) once the process has exited. */
  readonly exited: Effect.Effect<number | string>
}

/** Starts workerProcess.ts against `url` with extra env; it is SIGKILLed when the scope closes. */
export const spawnWorker = (url: Redacted.Redacted, env: Record<string, string> = {}) => spawnScript(workerScript, url, env)

/**
 * Starts a service script (run under tsx from its source) against `url` (as WORKER_DATABASE_URL)
 * with extra env; it is SIGKILLed when the scope closes, whatever the test's outcome.
 */
export const spawnScript = (script: string, url: Redacted.Redacted, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const { child, output, exited } = yield* spawnChild(script, { ...env, WORKER_DATABASE_URL: Redacted.value(url) })
    const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
      Effect.suspend(() => (pattern.test(output()) ? Effect.succeed(Date.now()) : Effect.fail("no match" as const))).pipe(
        Effect.retry({ schedule: Schedule.spaced("20 millis"), until: () => child.exitCode !== null }),
        Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => "timeout" as const }),
        Effect.mapError(() => new Error(`process ${child.pid} did not print ${pattern} within ${timeoutMs} ms:\n${output()}`))
      )
    return { child, pid: child.pid ?? -1, output, waitFor, exited } satisfies WorkerProcess
  })

/**
 * A script run under tsx from its source, with `env` over this process's, its output captured;
 * SIGKILLed when the scope closes, whatever the test's outcome. `stdin: "pipe"` lets the test
 * write commands to it.
 */
export const spawnChild = <S extends "ignore" | "pipe" = "ignore">(script: string, env: Record<string, string>, stdin?: S) =>
  Effect.gen(function*() {
    const child = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", script], {
      env: { ...process.env, ...env },
      stdio: [stdin ?? "ignore", "pipe", "pipe"]
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const exited = Effect.async<number | string>((resume) => {
      if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
      if (child.signalCode !== null) return resume(Effect.succeed(child.signalCode))
      child.once("exit", (code, signal) => resume(Effect.succeed(code ?? signal ?? -1)))
    })
    return { child, output: () => output, exited }
  })

/** Child processes start under tsx: seconds each, tens of seconds on a 2-core machine at load 15+. */
export const processTestTimeout = 150_000
