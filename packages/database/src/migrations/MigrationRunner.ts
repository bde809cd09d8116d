/**
 * Applies `migrations/*.sql` in order, each file in its own transaction, recorded with its
 * checksum in `redrive.schema_migration`. A service migrates its own tables with the same runner
 * under a source name of its own (`up({ source: "billing", directory })`): each source has its
 * own numbering and history, checked by the same rules, side by side with Redrive's. A run holds a session advisory lock on a reserved
 * connection from before it reads the bookkeeping table until it is done, so two runners
 * started at once on a new database serialise: one applies everything, the other waits and
 * then finds nothing left to do. (The stock Migrator races on creating its table there.) Before applying anything the runner refuses
 * when an applied file changed, disappeared, or a lower-numbered file appeared late.
 */
import { FileSystem, Path } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Config, Effect, Option, Schema } from "effect"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { MigrationFailed, MigrationRefused } from "./MigrationError.js"
import { loadDirectory, type MigrationFile } from "./MigrationFile.js"

/** Two-key advisory lock space: disjoint from @effect/cluster's single-key shard locks. */
const lockKey = [0x5244_5256, 1] as const

/**
 * Redrive's migrations: REDRIVE_MIGRATIONS_DIR, else the package's own `migrations/` (copied in
 * from the repository root when the package is packed, so an installed package has its SQL),
 * else `migrations/` at the repository root, the single source of truth in the workspace. Both
 * src/migrations/ and dist/migrations/ are two levels below the package folder.
 */
export const directory = Config.option(Config.string("REDRIVE_MIGRATIONS_DIR")).pipe(
  Config.map(Option.getOrElse(() => {
    const packaged = fileURLToPath(new URL("../../migrations", import.meta.url))
    return existsSync(packaged) ? packaged : fileURLToPath(new URL("../../../../migrations", import.meta.url))
  }))
)

/** Redrive's own migrations; a service names its own source. */
export const redriveSource = "redrive"

/** Where a source's files are: a directory, and the name its history is kept under. */
export interface Source {
  readonly source: string
  readonly directory: string
}

/** A source name: lowercase, like a Postgres identifier. */
const sourceName = /^[a-z][a-z0-9_]{0,62}$/

const resolveSource = (input: string | Partial<Source> | undefined) =>
  Effect.gen(function*() {
    const given = typeof input === "string" ? { directory: input } : input ?? {}
    const source = given.source ?? redriveSource
    if (!sourceName.test(source)) {
      return yield* new MigrationRefused({
        file: source,
        reason: "invalid_name",
        message: `migration source ${JSON.stringify(source)}: lowercase letters, digits and _ (at most 63)`
      })
    }
    if (given.directory === undefined && source !== redriveSource) {
      return yield* new MigrationRefused({
        file: source,
        reason: "invalid_name",
        message: `migration source ${JSON.stringify(source)} needs its directory`
      })
    }
    return { source, directory: given.directory ?? (yield* directory) } satisfies Source
  })

const AppliedRow = Schema.Struct({
  id: Schema.Int,
  name: Schema.String,
  checksum: Schema.String,
  appliedAt: Schema.DateFromSelf,
  durationMs: Schema.Int
})
type AppliedRow = typeof AppliedRow.Type

export interface MigrationStatus {
  readonly id: number
  readonly file: string
  readonly state: "applied" | "pending"
  readonly appliedAt: Date | null
  readonly durationMs: number | null
}

/**
 * The history table, created by the runner itself (it must exist before any file runs). A table
 * from before sources existed gets its `source` column and the (source, id) key here.
 */
const ensureTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`create schema if not exists redrive;
      create table if not exists redrive.schema_migration (
        source text not null default 'redrive',
        id integer not null,
        name text not null,
        checksum text not null,
        applied_at timestamptz(3) not null default now(),
        duration_ms integer not null,
        primary key (source, id)
      );
      do $$
      begin
        if not exists (select 1 from pg_attribute
                       where attrelid = 'redrive.schema_migration'::regclass and attname = 'source') then
          alter table redrive.schema_migration add column source text not null default 'redrive';
          alter table redrive.schema_migration drop constraint schema_migration_pkey, add primary key (source, id);
        end if;
      end $$`.unprepared)

/** A source's history; `null`: the whole table, from before it had sources (Redrive's only). */
const readApplied = (source: string | null) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`select id, name, checksum, applied_at, duration_ms from redrive.schema_migration
        ${source === null ? sql`` : sql`where source = ${source}`} order by id`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(AppliedRow))),
      Effect.orDie
    ))

/** The refusals of `up`, in the order a person should fix them. */
export const verify = (
  files: ReadonlyArray<MigrationFile>,
  applied: ReadonlyArray<AppliedRow>
): Effect.Effect<void, MigrationRefused> =>
  Effect.gen(function*() {
    const byId = new Map(files.map((f) => [f.id, f]))
    for (const row of applied) {
      const file = byId.get(row.id)
      const label = `${String(row.id).padStart(4, "0")}_${row.name}.sql`
      if (!file) {
        return yield* new MigrationRefused({
          file: label,
          reason: "missing",
          message: `${label} was applied but is no longer in the migrations directory`
        })
      }
      if (file.name !== row.name) {
        return yield* new MigrationRefused({
          file: file.file,
          reason: "renamed",
          message: `${file.file} has the number of the applied ${label}`
        })
      }
      if (file.checksum !== row.checksum) {
        return yield* new MigrationRefused({
          file: file.file,
          reason: "checksum_mismatch",
          message: `${file.file} was changed after it was applied; add a new migration instead`
        })
      }
    }
    const highest = applied.reduce((max, row) => Math.max(max, row.id), 0)
    const appliedIds = new Set(applied.map((r) => r.id))
    const late = files.find((f) => !appliedIds.has(f.id) && f.id < highest)
    if (late) {
      return yield* new MigrationRefused({
        file: late.file,
        reason: "out_of_order",
        message: `${late.file} is numbered below the already applied migration ${highest}; renumber it above ${highest}`
      })
    }
  })

/**
 * Holds the migration lock for the enclosing scope; Postgres frees it if the process dies.
 * It reserves a connection of its own, so the pool needs at least two.
 */
const holdLock = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const connection = yield* sql.reserve
  yield* Effect.acquireRelease(
    connection.executeRaw("select pg_advisory_lock($1, $2)", lockKey),
    () => Effect.ignore(connection.executeRaw("select pg_advisory_unlock($1, $2)", lockKey))
  )
})

/** Applies the next pending file in its own transaction, or returns null when none is left. */
const applyNext = (source: string, files: ReadonlyArray<MigrationFile>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* ensureTable
      const applied = yield* readApplied(source)
      yield* verify(files, applied)
      const done = new Set(applied.map((r) => r.id))
      const next = files.find((f) => !done.has(f.id))
      if (!next) return null
      const started = Date.now()
      yield* sql.unsafe(next.sql).unprepared.pipe(
        Effect.mapError((e) =>
          new MigrationFailed({ file: next.file, message: `${next.file}: ${messageOf(e.cause) ?? e.message}`, cause: e })
        )
      )
      yield* sql`insert into redrive.schema_migration (source, id, name, checksum, duration_ms)
                 values (${source}, ${next.id}, ${next.name}, ${next.checksum}, ${Date.now() - started})`
      return next
    }))
  )

const messageOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string"
    ? cause.message
    : undefined

/**
 * Applies every pending migration of a source (Redrive's by default; a string is a directory of
 * Redrive's); returns the files it applied (none on a second run). All sources share one lock.
 */
export const up = Effect.fn("Migrations.up")(function*(from?: string | Partial<Source>) {
  const { source, directory } = yield* resolveSource(from)
  const files = yield* loadDirectory(directory)
  yield* holdLock
  const applied: Array<MigrationFile> = []
  for (;;) {
    const next = yield* applyNext(source, files)
    if (next === null) return applied as ReadonlyArray<MigrationFile>
    applied.push(next)
  }
}, Effect.scoped, Effect.catchTag("SqlError", (e) => new MigrationFailed({ file: "(bookkeeping)", message: e.message, cause: e })))

/** Every file with whether and when it was applied. Refuses like `up` when files and database disagree. */
export const status = Effect.fn("Migrations.status")(function*(from?: string | Partial<Source>) {
  const sql = yield* SqlClient.SqlClient
  const { source, directory } = yield* resolveSource(from)
  const files = yield* loadDirectory(directory)
  const [found] = yield* sql<{ readonly table: string | null; readonly sourced: boolean }>`
    select to_regclass('redrive.schema_migration')::text as table,
           exists (select 1 from pg_attribute
                   where attrelid = to_regclass('redrive.schema_migration') and attname = 'source') as sourced`
  // A table from before sources holds Redrive's history only.
  const applied = !found?.table
    ? []
    : found.sourced
    ? yield* readApplied(source)
    : source === redriveSource
    ? yield* readApplied(null)
    : []
  yield* verify(files, applied)
  const byId = new Map(applied.map((r) => [r.id, r]))
  return files.map((f): MigrationStatus => {
    const row = byId.get(f.id)
    return {
      id: f.id,
      file: f.file,
      state: row ? "applied" : "pending",
      appliedAt: row?.appliedAt ?? null,
      durationMs: row?.durationMs ?? null
    }
  })
}, Effect.catchTag("SqlError", (e) => new MigrationFailed({ file: "(bookkeeping)", message: e.message, cause: e })))

export type Requirements = SqlClient.SqlClient | FileSystem.FileSystem | Path.Path
