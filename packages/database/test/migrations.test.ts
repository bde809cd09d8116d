import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { cpSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Database from "../src/Database.js"
import type { MigrationRefused } from "../src/migrations/MigrationError.js"
import { checksum } from "../src/migrations/MigrationFile.js"
import * as MigrationRunner from "../src/migrations/MigrationRunner.js"
import { TestDatabase } from "../src/testing/index.js"

const repoMigrations = Effect.runSync(MigrationRunner.directory)
const fileCount = readdirSync(repoMigrations).filter((f) => f.endsWith(".sql")).length

/** A copy of the migrations that a test may edit. */
const tempMigrations = (files?: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "redrive-mig-"))
      for (const f of files ?? readdirSync(repoMigrations)) cpSync(join(repoMigrations, f), join(dir, f))
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

const emptyDatabase = TestDatabase.layerEmpty.pipe(Layer.merge(NodeContext.layer))

/** A migrations directory of three small files, the first two applied; the third is pending. */
const twoApplied = Effect.gen(function*() {
  const dir = yield* tempMigrations([])
  writeFileSync(join(dir, "0001_first.sql"), "create table redrive.first (id int);\n")
  writeFileSync(join(dir, "0002_second.sql"), "create table redrive.second (id int);\n")
  assert.deepStrictEqual((yield* MigrationRunner.up(dir)).map((f) => f.file), ["0001_first.sql", "0002_second.sql"])
  writeFileSync(join(dir, "0003_third.sql"), "create table redrive.third (id int);\n")
  return dir
})

/** `up` and `status` both refuse with this reason and file, and nothing more was applied. */
const assertRefused = (dir: string, expected: { readonly reason: MigrationRefused["reason"]; readonly file: string }) =>
  Effect.gen(function*() {
    for (const run of [Effect.asVoid(MigrationRunner.up(dir)), Effect.asVoid(MigrationRunner.status(dir))]) {
      const result = yield* Effect.either(run)
      assert.isTrue(Either.isLeft(result), "the runner went on instead of refusing")
      if (Either.isLeft(result)) {
        const error = result.left
        const seen = error._tag === "Redrive/MigrationRefused"
          ? { tag: error._tag, reason: error.reason, file: error.file }
          : { tag: error._tag, message: String(error) }
        assert.deepStrictEqual(seen, { tag: "Redrive/MigrationRefused", ...expected })
      }
    }
    const sql = yield* SqlClient.SqlClient
    const applied = yield* sql<{ id: number; name: string }>`select id, name from redrive.schema_migration order by id`
    assert.deepStrictEqual(applied, [{ id: 1, name: "first" }, { id: 2, name: "second" }])
    const third = yield* sql<{ t: string | null }>`select to_regclass('redrive.third')::text as t`
    assert.isNull(third[0]!.t)
  })

describe("migration runner", () => {
  it.live("applies every file in order once; a second up is a no-op", () =>
    Effect.gen(function*() {
      const first = yield* MigrationRunner.up()
      assert.strictEqual(first.length, fileCount)
      assert.deepStrictEqual(first.map((f) => f.id), [...first.map((f) => f.id)].sort((a, b) => a - b))
      const second = yield* MigrationRunner.up()
      assert.strictEqual(second.length, 0)
      const status = yield* MigrationRunner.status()
      assert.isTrue(status.every((s) => s.state === "applied" && s.appliedAt instanceof Date))
      const sql = yield* SqlClient.SqlClient
      const tables = yield* sql<{ name: string }>`select table_name as name from information_schema.tables
        where table_schema = 'redrive' and table_type = 'BASE TABLE' order by 1`
      assert.deepStrictEqual(tables.map((t) => t.name), [
        "alert_attempt", "alert_channel", "alert_channel_event", "alert_delivery", "alert_episode", "alert_window", "api_key", "circuit",
        "circuit_count", "control", "control_event", "control_move", "dlq_group", "dlq_group_mute", "dlq_group_tenant", "dlq_purge",
        "failure_stat", "job", "job_dlq", "job_rerun", "replay_request", "schema_migration", "tenant_seal", "throughput_stat"
      ])
    }).pipe(Effect.provide(emptyDatabase)))

  it.live("two runners started together on a new database both succeed: one applies, one waits", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      // Two pools = two independent sessions, as two processes would have.
      const runner = MigrationRunner.up().pipe(
        Effect.provide(Database.layer({ url: info.adminDatabaseUrl, maxConnections: 2, administrator: true })),
        Effect.provide(NodeContext.layer)
      )
      const [a, b] = yield* Effect.all([runner, runner], { concurrency: 2 })
      assert.deepStrictEqual([a.length, b.length].sort((x, y) => x - y), [0, fileCount])
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: string }>`select count(*) as n from redrive.schema_migration`
      assert.strictEqual(Number(rows[0]!.n), fileCount)
    }).pipe(Effect.provide(emptyDatabase)))

  it.live("refuses, naming the file, when an applied file was changed", () =>
    Effect.gen(function*() {
      const dir = yield* tempMigrations()
      yield* MigrationRunner.up(dir)
      writeFileSync(join(dir, "0004_control.sql"), "-- edited\n", { flag: "a" })
      const result = yield* Effect.either(MigrationRunner.up(dir))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "Redrive/MigrationRefused")
        if (result.left._tag === "Redrive/MigrationRefused") {
          assert.strictEqual(result.left.reason, "checksum_mismatch")
          assert.strictEqual(result.left.file, "0004_control.sql")
        }
      }
      const status = yield* Effect.either(MigrationRunner.status(dir))
      assert.isTrue(Either.isLeft(status))
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))

  it.live("refuses a lower-numbered file that appears after a higher one was applied", () =>
    Effect.gen(function*() {
      const dir = yield* tempMigrations(["0001_schema_and_roles.sql", "0002_job.sql"])
      writeFileSync(join(dir, "0005_later.sql"), "create table redrive.later (id int);\n")
      assert.strictEqual((yield* MigrationRunner.up(dir)).length, 3)
      writeFileSync(join(dir, "0003_late.sql"), "create table redrive.late (id int);\n")
      const result = yield* Effect.flip(MigrationRunner.up(dir))
      assert.strictEqual(result._tag, "Redrive/MigrationRefused")
      if (result._tag === "Redrive/MigrationRefused") {
        assert.strictEqual(result.reason, "out_of_order")
        assert.strictEqual(result.file, "0003_late.sql")
      }
      const sql = yield* SqlClient.SqlClient
      const late = yield* sql<{ t: string | null }>`select to_regclass('redrive.late')::text as t`
      assert.isNull(late[0]!.t)
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))

  it.live("refuses, naming the file, when an applied file was removed from the directory", () =>
    Effect.gen(function*() {
      const dir = yield* twoApplied
      rmSync(join(dir, "0002_second.sql"))
      yield* assertRefused(dir, { reason: "missing", file: "0002_second.sql" })
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))

  it.live("refuses, naming the file, when an applied file was renamed under its number", () =>
    Effect.gen(function*() {
      const dir = yield* twoApplied
      renameSync(join(dir, "0002_second.sql"), join(dir, "0002_second_table.sql"))
      yield* assertRefused(dir, { reason: "renamed", file: "0002_second_table.sql" })
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))

  it.live("refuses, naming the file, when an applied file was renumbered", () =>
    Effect.gen(function*() {
      const dir = yield* twoApplied
      // Its contents, under a number nobody applied: the applied number is now missing.
      renameSync(join(dir, "0002_second.sql"), join(dir, "0004_second.sql"))
      yield* assertRefused(dir, { reason: "missing", file: "0002_second.sql" })
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))

  it.live("a failing file is rolled back, not recorded, and named in the error", () =>
    Effect.gen(function*() {
      const dir = yield* tempMigrations(["0001_schema_and_roles.sql"])
      writeFileSync(join(dir, "0002_broken.sql"), "create table redrive.half (id int);\nselect * from no_such_table;\n")
      const error = yield* Effect.flip(MigrationRunner.up(dir))
      assert.strictEqual(error._tag, "Redrive/MigrationFailed")
      if (error._tag === "Redrive/MigrationFailed") {
        assert.strictEqual(error.file, "0002_broken.sql")
        assert.include(error.message, "no_such_table")
      }
      const sql = yield* SqlClient.SqlClient
      const half = yield* sql<{ t: string | null }>`select to_regclass('redrive.half')::text as t`
      assert.isNull(half[0]!.t)
      const applied = yield* sql<{ id: number }>`select id from redrive.schema_migration order by id`
      assert.deepStrictEqual(applied.map((r) => r.id), [1])
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))

  it.live("a service's own migrations run beside Redrive's under their own source, numbered from 0001", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* MigrationRunner.up()).length, fileCount)
      const dir = yield* tempMigrations([])
      writeFileSync(join(dir, "0001_billing.sql"), "create table public.invoice (id int primary key);\n")
      const billing = { source: "billing", directory: dir }
      assert.deepStrictEqual((yield* MigrationRunner.up(billing)).map((f) => f.file), ["0001_billing.sql"])
      assert.deepStrictEqual((yield* MigrationRunner.up(billing)), [])
      assert.deepStrictEqual((yield* MigrationRunner.status(billing)).map((s) => [s.file, s.state]), [
        ["0001_billing.sql", "applied"]
      ])
      // Redrive's history is untouched and still complete.
      const redrive = yield* MigrationRunner.status()
      assert.strictEqual(redrive.length, fileCount)
      assert.isTrue(redrive.every((s) => s.state === "applied"))
      // The same rules, per source: an edited applied file of the service's is refused, naming it.
      writeFileSync(join(dir, "0001_billing.sql"), "create table public.invoice (id bigint primary key);\n")
      const refused = yield* Effect.flip(MigrationRunner.up(billing))
      assert.deepInclude(refused, { _tag: "Redrive/MigrationRefused", reason: "checksum_mismatch", file: "0001_billing.sql" })
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ source: string; n: string }>`
        select source, count(*) as n from redrive.schema_migration group by source order by source`
      assert.deepStrictEqual(rows, [{ source: "billing", n: "1" }, { source: "redrive", n: String(fileCount) }])
      // A source is named like an identifier, and a service's source needs its directory.
      const badName = yield* Effect.flip(MigrationRunner.up({ source: "Billing!", directory: dir }))
      assert.deepInclude(badName, { _tag: "Redrive/MigrationRefused", reason: "invalid_name" })
      const noDir = yield* Effect.flip(MigrationRunner.up({ source: "billing" }))
      assert.deepInclude(noDir, { _tag: "Redrive/MigrationRefused", reason: "invalid_name" })
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))

  it.live("a history table from before sources is upgraded in place, keeping what it recorded", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const dir = yield* tempMigrations([])
      writeFileSync(join(dir, "0001_first.sql"), "create table redrive.first (id int);\n")
      writeFileSync(join(dir, "0002_second.sql"), "create table redrive.second (id int);\n")
      // The old shape, with 0001 recorded as applied (and its table in place).
      yield* sql`create schema redrive;
                 create table redrive.first (id int);
                 create table redrive.schema_migration (
                   id integer primary key, name text not null, checksum text not null,
                   applied_at timestamptz(3) not null default now(), duration_ms integer not null
                 )`.unprepared
      yield* sql`insert into redrive.schema_migration (id, name, checksum, duration_ms)
                 values (1, 'first', ${checksum("create table redrive.first (id int);\n")}, 1)`
      assert.deepStrictEqual((yield* MigrationRunner.status(dir)).map((s) => s.state), ["applied", "pending"])
      assert.deepStrictEqual((yield* MigrationRunner.up(dir)).map((f) => f.file), ["0002_second.sql"])
      const rows = yield* sql<{ source: string; id: number }>`select source, id from redrive.schema_migration order by id`
      assert.deepStrictEqual(rows, [{ source: "redrive", id: 1 }, { source: "redrive", id: 2 }])
    }).pipe(Effect.scoped, Effect.provide(emptyDatabase)))
})
