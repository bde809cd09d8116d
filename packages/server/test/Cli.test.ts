/**
 * The `redrive` bin as an operator runs it: child processes against a database of this file,
 * asserting what they print (`--json` parsed), their exit codes and what changed in the database.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect } from "effect"
import { createHash } from "node:crypto"
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
      assert.deepStrictEqual(page1.items.map((d) => d.id), [ids[2]!, ids[1]!])
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
      assert.deepStrictEqual(json<Page>(second).items.map((d) => d.id), [ids[0]!])
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
      assert.deepStrictEqual(rows.map((r) => [Number(r.replayOf), r.replayedBy]), [[id!, "ops@example.com"]])
      const [untouched] = yield* sql<{ replayedAt: Date | null }>`select replayed_at from redrive.job_dlq where id = ${other}`
      assert.isNull(untouched!.replayedAt)
    }), timeout)
})

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("redrive CLI: bulk replay, jobs, controls, purge", (it) => {
  it.effect("replay --dry-run counts, replay runs the request to done with a progress bar, an unknown filter key exits 2", () =>
    Effect.gen(function*() {
      const env = yield* db
      const tenant = Factory.tenant()
      const type = Factory.jobType()
      const ids = yield* seedDeadLetters(4, { tenantId: tenant, type })
      yield* seedDeadLetters(1, { tenantId: tenant })
      const [dry, unknownKey] = yield* Effect.all([
        cli(["replay", "--filter", `tenant=${tenant}`, "--filter", `type=${type}`, "--dry-run", "--json"], env),
        cli(["replay", "--filter", "colour=red", "--json"], env)
      ], { concurrency: 2 })
      assert.strictEqual(dry.code, 0, dry.stderr)
      assert.deepStrictEqual([json<{ matched: number }>(dry).matched, json<{ dryRun: boolean }>(dry).dryRun], [4, true])
      assert.strictEqual(unknownKey.code, 2)
      assert.strictEqual(json<ErrorDoc>(unknownKey).error.field, "filter.colour")
      const run = yield* cli(["replay", "--filter", `tenant=${tenant}`, "--filter", `type=${type}`], env)
      assert.strictEqual(run.code, 0, run.stderr)
      // Not a terminal: the bar is written as lines on stderr, the final one at 100%.
      assert.match(run.stderr, /100%\s+4\/4 replayed\s+done/)
      assert.match(run.stdout, /state\s+done/)
      const sql = yield* SqlClient.SqlClient
      const jobs = yield* sql<{ replayOf: string }>`select replay_of from redrive.job where replay_of = any(${ids}::bigint[]) order by replay_of`
      assert.deepStrictEqual(jobs.map((j) => Number(j.replayOf)), ids)
      const left = yield* sql<{ n: number }>`select count(*)::int as n from redrive.job_dlq where tenant_id = ${tenant} and replayed_at is null`
      assert.strictEqual(left[0]!.n, 1)
    }), timeout)

  it.effect("jobs show/retry/cancel act on one job; a running job refuses with exit 4, a missing one exits 3", () =>
    Effect.gen(function*() {
      const env = yield* db
      const queue = Factory.queue()
      const waiting = yield* Factory.insertJob({ queue, runAt: new Date(Date.now() + 3_600_000) })
      const running = yield* Factory.insertJob({ queue, ...Factory.abandoned("worker-x", 1), lockedUntil: new Date(Date.now() + 60_000) })
      const [shown, retried, refused, missing] = yield* Effect.all([
        cli(["jobs", "show", String(waiting.id), "--json"], env),
        cli(["jobs", "retry", String(waiting.id), "--json"], env),
        cli(["jobs", "cancel", String(running.id), "--json"], env),
        cli(["jobs", "show", "987654321", "--json"], env)
      ], { concurrency: 3 })
      assert.strictEqual(shown.code, 0, shown.stderr)
      assert.deepStrictEqual([json<{ id: number; queue: string }>(shown).id, json<{ queue: string }>(shown).queue], [waiting.id, queue])
      assert.strictEqual(retried.code, 0, retried.stderr)
      assert.isTrue(json<{ rescheduled: boolean }>(retried).rescheduled)
      assert.strictEqual(refused.code, 4)
      assert.strictEqual(json<ErrorDoc>(refused).error.tag, "Redrive/JobRunning")
      assert.strictEqual(missing.code, 3)
      const cancelled = yield* cli(["jobs", "cancel", String(waiting.id), "--reason", "customer left", "--json"], env)
      assert.strictEqual(cancelled.code, 0, cancelled.stderr)
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ state: string; runAt: Date }>`select state, run_at from redrive.job where id = ${waiting.id}`
      assert.strictEqual(row!.state, "cancelled")
      assert.isBelow(row!.runAt.getTime(), Date.now() + 60_000)
    }), timeout)

  it.effect("pause, controls, resume and the audit trail; a pause without --reason is a usage error", () =>
    Effect.gen(function*() {
      const env = yield* db
      const tenant = Factory.tenant()
      const scope = `${tenant}/mail`
      const paused = yield* cli(["pause", scope, "--reason", "provider outage", "--by", "ops", "--json"], env)
      assert.strictEqual(paused.code, 0, paused.stderr)
      assert.strictEqual(json<{ control: { state: string } }>(paused).control.state, "paused")
      const [listed, noReason, badScope] = yield* Effect.all([
        cli(["controls", "--json"], env),
        cli(["pause", scope], env),
        cli(["pause", "/mail", "--reason", "r", "--json"], env)
      ], { concurrency: 3 })
      const controls = json<Array<{ tenantId: string; queue: string; state: string; reason: string }>>(listed)
      assert.deepStrictEqual(
        controls.filter((c) => c.tenantId === tenant).map((c) => [c.queue, c.state, c.reason]),
        [["mail", "paused", "provider outage"]]
      )
      assert.strictEqual(noReason.code, 2)
      assert.match(noReason.stderr, /reason/)
      assert.strictEqual(badScope.code, 2)
      assert.strictEqual(json<ErrorDoc>(badScope).error.tag, "Redrive/InvalidInput")
      const resumed = yield* cli(["resume", scope, "--by", "ops", "--json"], env)
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      const events = yield* cli(["controls", "--events", "--scope", scope, "--json"], env)
      assert.deepStrictEqual(
        json<Array<{ action: string; actor: string }>>(events).map((e) => [e.action, e.actor]),
        [["resume", "ops"], ["pause", "ops"]]
      )
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql`select 1 from redrive.control where tenant_id = ${tenant}`
      assert.strictEqual(rows.length, 0)
    }), timeout)

  it.effect("purge dlq counts with --dry-run, refuses without --yes or a filter (exit 2), deletes old ones and audits it", () =>
    Effect.gen(function*() {
      const env = yield* db
      const tenant = Factory.tenant()
      const old = new Date(Date.now() - 40 * 86_400_000)
      const oldIds = yield* seedDeadLetters(2, { tenantId: tenant, dlqAt: old })
      const [recent] = yield* seedDeadLetters(1, { tenantId: tenant })
      const args = ["purge", "dlq", "--filter", `tenant=${tenant}`, "--older-than", "30 days"]
      const [dry, unconfirmed, unfiltered] = yield* Effect.all([
        cli([...args, "--dry-run", "--json"], env),
        cli([...args, "--json"], env),
        cli(["purge", "dlq", "--yes", "--json"], env)
      ], { concurrency: 3 })
      assert.strictEqual(dry.code, 0, dry.stderr)
      assert.deepStrictEqual(json(dry), { count: 2, dryRun: true, auditId: null })
      assert.strictEqual(unconfirmed.code, 2)
      assert.strictEqual(json<ErrorDoc>(unconfirmed).error.field, "yes")
      assert.match(json<ErrorDoc>(unconfirmed).error.message, /deletes 2 dead letter/)
      assert.strictEqual(unfiltered.code, 2)
      assert.strictEqual(json<ErrorDoc>(unfiltered).error.field, "filter")
      const sql = yield* SqlClient.SqlClient
      const count = sql<{ n: number }>`select count(*)::int as n from redrive.job_dlq where tenant_id = ${tenant}`
      assert.strictEqual((yield* count)[0]!.n, 3)
      const purged = yield* cli([...args, "--yes", "--reason", "GDPR request", "--by", "ops", "--json"], env)
      assert.strictEqual(purged.code, 0, purged.stderr)
      const result = json<{ count: number; auditId: number }>(purged)
      assert.strictEqual(result.count, 2)
      const left = yield* sql<{ id: string }>`select id from redrive.job_dlq where tenant_id = ${tenant}`
      assert.deepStrictEqual(left.map((r) => Number(r.id)), [recent!])
      const [audit] = yield* sql<{ tenantId: string; deleted: string; purgedBy: string; reason: string; finishedAt: Date | null }>`
        select tenant_id, deleted, purged_by, reason, finished_at from redrive.dlq_purge where id = ${result.auditId}`
      assert.deepStrictEqual(
        [audit!.tenantId, Number(audit!.deleted), audit!.purgedBy, audit!.reason],
        [tenant, oldIds.length, "ops", "GDPR request"]
      )
      assert.instanceOf(audit!.finishedAt, Date)
    }), timeout)

  it.effect("keys create prints the secret once (only its hash is stored), list, rotate and revoke; a missing key exits 3", () =>
    Effect.gen(function*() {
      const env = yield* db
      const tenant = Factory.tenant()
      const created = yield* cli(["keys", "create", "--name", "billing-service", "--tenant", tenant, "--json"], env)
      assert.strictEqual(created.code, 0, created.stderr)
      const key = json<{ key: { id: number; tenant: string; access: string }; secret: string }>(created)
      assert.match(key.secret, /^rdk_[A-Za-z0-9_-]{43}$/)
      assert.deepStrictEqual([key.key.tenant, key.key.access], [tenant, "write"])
      const sql = yield* SqlClient.SqlClient
      const [stored] = yield* sql<{ hash: string }>`select hash from redrive.api_key where id = ${key.key.id}`
      assert.strictEqual(stored!.hash, createHash("sha256").update(key.secret).digest("hex"))
      const rotated = yield* cli(["keys", "rotate", String(key.key.id), "--json"], env)
      assert.strictEqual(rotated.code, 0, rotated.stderr)
      const next = json<{ key: { id: number; rotatedFrom: number }; secret: string }>(rotated)
      assert.strictEqual(next.key.rotatedFrom, key.key.id)
      assert.notStrictEqual(next.secret, key.secret)
      const [revoked, missing, listed, help] = yield* Effect.all([
        cli(["keys", "revoke", String(key.key.id), "--json"], env),
        cli(["keys", "revoke", "987654321", "--json"], env),
        cli(["keys", "list"], env),
        cli(["--help"], env)
      ], { concurrency: 3 })
      assert.strictEqual(revoked.code, 0, revoked.stderr)
      assert.isString(json<{ revokedAt: string | null }>(revoked).revokedAt)
      assert.strictEqual(missing.code, 3)
      assert.strictEqual(json<ErrorDoc>(missing).error.tag, "Redrive/ApiKeyNotFound")
      assert.strictEqual(listed.code, 0)
      assert.include(listed.stdout, "billing-service")
      assert.notInclude(listed.stdout, key.secret.slice(4))
      assert.strictEqual(help.code, 0)
      assert.match(help.stdout, /Exit codes: 0 ok/)
    }), timeout)
})
