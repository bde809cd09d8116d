/**
 * The `redrive` bin as an operator runs it: child processes against a database of this file,
 * asserting what they print (`--json` parsed), their exit codes and what changed in the database.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Database } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer } from "effect"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { cli, json, timeout } from "./cliFixtures.js"

const migrationFiles = readdirSync(fileURLToPath(new URL("../../../migrations", import.meta.url))).filter((f) =>
  f.endsWith(".sql")
).length

const db = Effect.map(TestDatabase.TestDatabaseInfo, (info) => ({ databaseUrl: info.url }))

/** Inserts dead letters of one tenant and returns their ids. */
const seedDeadLetters = (
  count: number,
  overrides: Parameters<typeof Factory.insertDeadLetter>[0] = {}
) => Effect.forEach(Array.from({ length: count }, (_, i) => i), () => Effect.map(Factory.insertDeadLetter(overrides), (d) => d.id))

interface Page {
  readonly items: ReadonlyArray<{ readonly id: number; readonly tenantId: string; readonly payload: unknown }>
  readonly nextCursor: string | null
}
interface ErrorDoc {
  readonly error: { readonly tag: string; readonly field?: string; readonly exitCode: number; readonly message: string }
}

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("redrive CLI", (it) => {
  it.effect("migrate status lists every file pending on a new database, up applies them, status then shows none pending", () =>
    Effect.gen(function*() {
      const fresh = yield* TestDatabase.scopedDatabase({ template: null, prefix: "redrive_cli" })
      const admin = { databaseUrl: fresh.adminDatabaseUrl }
      const before = yield* cli(["migrate", "status", "--json"], admin)
      assert.strictEqual(before.code, 0, before.stderr)
      const status = json<{ applied: number; pending: number }>(before)
      assert.deepStrictEqual([status.applied, status.pending], [0, migrationFiles])
      const up = yield* cli(["migrate", "up", "--json"], admin)
      assert.strictEqual(up.code, 0, up.stderr)
      assert.strictEqual(json<{ applied: Array<string> }>(up).applied.length, migrationFiles)
      const after = yield* cli(["migrate", "status"], admin)
      assert.strictEqual(after.code, 0)
      assert.match(after.stdout, new RegExp(`${migrationFiles} applied, 0 pending`))
    }).pipe(Effect.scoped), timeout)

  it.effect("dlq list pages with a cursor, show prints a dead letter, bad input exits 2 naming the field, a missing id exits 3", () =>
    Effect.gen(function*() {
      const env = yield* db
      const tenant = Factory.tenant()
      const ids = yield* seedDeadLetters(3, { tenantId: tenant, payload: { to: "cli@example.com" } })
      const first = yield* cli(["dlq", "list", "--tenant", tenant, "--limit", "2", "--json"], env)
      assert.strictEqual(first.code, 0, first.stderr)
      const page1 = json<Page>(first)
      assert.deepStrictEqual(page1.items.map((d) => d.id), [ids[2], ids[1]])
      assert.isString(page1.nextCursor)
      const [second, shown, human, badLimit, badId, missing, badCursor] = yield* Effect.all([
        cli(["dlq", "list", "--tenant", tenant, "--limit", "2", "--cursor", page1.nextCursor!, "--json"], env),
        cli(["dlq", "show", String(ids[0]), "--json"], env),
        cli(["dlq", "list", "--tenant", tenant], env),
        cli(["dlq", "list", "--limit", "0", "--json"], env),
        cli(["dlq", "show", "abc", "--json"], env),
        cli(["dlq", "show", "987654321"], env),
        cli(["dlq", "list", "--tenant", tenant, "--cursor", "forged", "--json"], env)
      ], { concurrency: 3 })
      assert.deepStrictEqual(json<Page>(second).items.map((d) => d.id), [ids[0]])
      assert.isNull(json<Page>(second).nextCursor)
      assert.deepStrictEqual(json<Page["items"][number]>(shown).payload, { to: "cli@example.com" })
      assert.strictEqual(human.code, 0)
      assert.match(human.stdout, /3 dead letter\(s\)/)
      assert.include(human.stdout, tenant)
      assert.strictEqual(badLimit.code, 2)
      assert.strictEqual(json<ErrorDoc>(badLimit).error.field, "limit")
      assert.strictEqual(badId.code, 2)
      assert.deepStrictEqual([json<ErrorDoc>(badId).error.tag, json<ErrorDoc>(badId).error.field], ["Redrive/InvalidInput", "id"])
      assert.strictEqual(missing.code, 3)
      assert.match(missing.stderr, /DeadLetterNotFound/)
      assert.strictEqual(badCursor.code, 2)
      assert.strictEqual(json<ErrorDoc>(badCursor).error.field, "cursor")
    }), timeout)

  it.effect("dlq replay turns a dead letter into a job once; groups counts it; a second replay returns the same job", () =>
    Effect.gen(function*() {
      const env = yield* db
      const tenant = Factory.tenant()
      const [id, other] = yield* seedDeadLetters(2, { tenantId: tenant, fingerprint: "fp-cli" })
      const groups = yield* cli(["dlq", "groups", "--tenant", tenant, "--json"], env)
      assert.strictEqual(groups.code, 0, groups.stderr)
      const found = json<{ groups: Array<{ fingerprint: string; count: number }> }>(groups).groups
      assert.deepStrictEqual(found.map((g) => [g.fingerprint, g.count]), [["fp-cli", 2]])
      const first = yield* cli(["dlq", "replay", String(id), "--by", "ops@example.com", "--json"], env)
      assert.strictEqual(first.code, 0, first.stderr)
      const replayed = json<{ jobId: number; created: boolean }>(first)
      assert.isTrue(replayed.created)
      const [again, badPayload] = yield* Effect.all([
        cli(["dlq", "replay", String(id), "--json"], env),
        cli(["dlq", "replay", String(other), "--payload", "{not json", "--json"], env)
      ], { concurrency: 2 })
      assert.deepStrictEqual(json(again), { jobId: replayed.jobId, created: false })
      assert.strictEqual(badPayload.code, 2)
      assert.strictEqual(json<ErrorDoc>(badPayload).error.field, "payload")
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ replayOf: string; replayedBy: string }>`
        select j.replay_of, d.replayed_by from redrive.job j join redrive.job_dlq d on d.id = j.replay_of
        where j.id = ${replayed.jobId}`
      assert.deepStrictEqual(rows.map((r) => [Number(r.replayOf), r.replayedBy]), [[id, "ops@example.com"]])
      const [untouched] = yield* sql<{ replayedAt: Date | null }>`select replayed_at from redrive.job_dlq where id = ${other}`
      assert.isNull(untouched!.replayedAt)
    }), timeout)
})
