/**
 * Redrive's server as a real child process (the `serve` bin under tsx) on a free port, against a
 * test database: for end-to-end tests over real HTTP. SIGTERM when the scope closes, SIGKILL if it
 * has not exited 15 s later.
 */
import { Scratch, TestDatabase } from "@redrive/database/testing"
import { Context, Effect, Layer, Redacted, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const serveScript = fileURLToPath(new URL("../src/bin/serve.ts", import.meta.url))

/** Cursors leave the server: it needs a real signing key (any 16+ characters but the demo one). */
export const cursorSecret = "server-test-cursor-secret-0123"

export interface ServerProcess {
  readonly child: ChildProcess
  readonly baseUrl: string
  /** Everything the process printed so far (stdout and stderr). */
  readonly output: () => string
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Effect.Effect<number | string>
}

export const spawnServer = (url: Redacted.Redacted, args: ReadonlyArray<string> = [], env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const port = yield* Scratch.freePort
    const child = spawn(process.execPath, ["--conditions=@redrive/source", "--import", "tsx", serveScript, ...args], {
      env: {
        ...process.env,
        DATABASE_URL: Redacted.value(url),
        REDRIVE_CURSOR_SECRET: cursorSecret,
        REDRIVE_HTTP_PORT: String(port),
        REDRIVE_HTTP_HOST: "127.0.0.1",
        // Entity messages sent by this process are delivered at once; fewer shards to lock at start.
        SHARDS_PER_GROUP: "30",
        ...env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const exited = Effect.async<number | string>((resume) => {
      if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
      if (child.signalCode !== null) return resume(Effect.succeed(child.signalCode))
      child.once("exit", (code, signal) => resume(Effect.succeed(code ?? signal ?? -1)))
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => child.kill("SIGTERM")).pipe(
        Effect.zipRight(exited.pipe(Effect.timeout("15 seconds"))),
        Effect.catchAll(() => Effect.sync(() => child.kill("SIGKILL")))
      )
    )
    const baseUrl = `http://127.0.0.1:${port}`
    // Ready when /healthz answers (bounded: tsx start-up on a loaded 2-core machine takes a while).
    yield* Effect.tryPromise(() =>
      fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok ? r.text() : Promise.reject(new Error("not ok")))
    ).pipe(
      Effect.retry({ schedule: Schedule.spaced("200 millis"), until: () => child.exitCode !== null }),
      Effect.timeoutFail({ duration: "45 seconds", onTimeout: () => new Error("timeout") }),
      Effect.mapError(() => new Error(`the server did not become healthy:\n${output}`))
    )
    return { child, baseUrl, output: () => output, exited } satisfies ServerProcess
  })

export class Server extends Context.Tag("test/Server")<Server, ServerProcess>() {}

/** A server for the test file's database (TestDatabase.layer), started once per file. */
export const layer = Layer.scoped(Server, Effect.flatMap(TestDatabase.TestDatabaseInfo, (info) => spawnServer(info.url)))

/** fetch as a test uses it: the status, the parsed JSON body (or the text), the content type. */
export const request = (baseUrl: string, path: string, init: RequestInit & { readonly key?: string } = {}) =>
  Effect.promise(async () => {
    const { key, ...rest } = init
    const headers = new Headers(rest.headers)
    if (key !== undefined) headers.set("authorization", `Bearer ${key}`)
    const response = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(30_000), ...rest, headers })
    const text = await response.text()
    let json: unknown = undefined
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, json, text, contentType: response.headers.get("content-type") ?? "" }
  })

/** A JSON POST. */
export const post = (baseUrl: string, path: string, body: unknown, key?: string) =>
  request(baseUrl, path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(key !== undefined ? { key } : {})
  })
