/**
 * The `redrive` bin in its remote mode: `redrive serve` runs as a child on a free port against
 * this file's database, keys are created with `redrive keys create` (direct mode), and commands
 * run with `--url`/`--key` (or REDRIVE_URL/REDRIVE_KEY) as child processes. Asserted: their
 * `--json` documents, exit codes (3 for another tenant's row, 5 for a refused key), what changed
 * in the database, that no key is ever printed by the CLI or the server, and (when the layer
 * closes, after every test: they run shuffled) that SIGTERM stops the server with exit 0.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Context, Effect, Layer, type Redacted } from "effect"
import * as ApiKeys from "../src/auth/ApiKeys.js"
import { cli, type CliResult, json, serve, type ServeChild, timeout } from "./cliFixtures.js"

interface Key {
  readonly id: number
  readonly name: string
  readonly secret: string
}

class Remote extends Context.Tag("test/Remote")<Remote, {
  readonly server: ServeChild
  readonly admin: Key
  /** A write key of `tenant`. */
  readonly tenantKey: Key
  /** A key of `tenant` the last test revokes. */
  readonly doomedKey: Key
  readonly tenant: Tenant
  readonly other: Tenant
}>() {}

type Tenant = ReturnType<typeof Factory.tenant>

const cursorSecret = "cli-remote-test-cursor-secret-0123456789"

interface Page {
  readonly items: ReadonlyArray<{ readonly id: number; readonly tenantId: string; readonly payload: unknown }>
  readonly nextCursor: string | null
}
interface ErrorDoc {
  readonly error: { readonly tag: string; readonly field?: string; readonly exitCode: number; readonly message: string }
}
interface ControlChange {
  readonly control: { readonly tenantId: string; readonly queue: string; readonly state: string; readonly initiatedBy: string } | null
  readonly moved: number
}

const createKey = (databaseUrl: Redacted.Redacted, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const created = yield* cli(["keys", "create", ...args, "--json"], { databaseUrl })
    assert.strictEqual(created.code, 0, created.stderr)
    const doc = json<{ key: { id: number; name: string }; secret: string }>(created)
    return { id: doc.key.id, name: doc.key.name, secret: doc.secret } satisfies Key
  })

const RemoteLive = Layer.scoped(
  Remote,
  Effect.gen(function*() {
    const info = yield* TestDatabase.TestDatabaseInfo
    const tenant = Factory.tenant()
    const other = Factory.tenant()
    // The server starts while the keys are created: both are child processes of a few seconds.
    const [server, admin, tenantKey] = yield* Effect.all([
      serve({ databaseUrl: info.url, env: { REDRIVE_CURSOR_SECRET: cursorSecret } }),
      createKey(info.url, ["--name", "ops-admin"]),
      createKey(info.url, ["--name", "acme-service", "--tenant", tenant])
    ], { concurrency: "unbounded" })
    // The key the last test revokes: made in this process (one child process fewer).
    const doomed = yield* Effect.flatMap(ApiKeys.ApiKeys, (keys) => keys.create({ name: "acme-doomed", tenant })).pipe(
      Effect.provide(ApiKeys.layer)
    )
    const doomedKey = { id: doomed.key.id, name: doomed.key.name, secret: doomed.secret } satisfies Key
    // Tests run shuffled: the server stops when the last has run. SIGTERM ends it gracefully (exit 0)
    // and its log holds no key; a failure here fails the run (afterAll).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const code = yield* server.stop.pipe(Effect.timeout("60 seconds"), Effect.orDie)
        assert.strictEqual(code, 0, `redrive serve exited ${code} on SIGTERM:\n${server.output()}`)
        for (const key of [admin, tenantKey, doomedKey]) assert.notInclude(server.output(), key.secret)
        assert.include(server.output(), "POST")
      }).pipe(Effect.orDie)
    )
    return { server, admin, tenantKey, doomedKey, tenant, other }
  })
)

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("redrive CLI over --url", (it) => {
  it.layer(RemoteLive, { timeout: "120 seconds" })("against redrive serve", (it) => {
    /** `redrive …args` as `key` at the server: flags by default, REDRIVE_URL/REDRIVE_KEY with `viaEnv`. */
    const as = (key: Key, args: ReadonlyArray<string>, viaEnv = false) =>
      Effect.gen(function*() {
        const remote = yield* Remote
        const result = yield* viaEnv
          ? cli(args, { env: { REDRIVE_URL: remote.server.url, REDRIVE_KEY: key.secret } })
          : cli([...args, "--url", remote.server.url, "--key", key.secret])
        for (const k of [remote.admin, remote.tenantKey, remote.doomedKey]) {
          assert.notInclude(result.stdout + result.stderr, k.secret, `${args.join(" ")} printed a key`)
        }
        return result
      })

    /** Exit 0, else the failure with the server's log (a transport failure's reason is there). */
    const ok = (result: CliResult) =>
      Effect.map(Remote, ({ server }) => {
        assert.strictEqual(result.code, 0, `exit ${result.code}\n${result.stdout}\n${result.stderr}\nserver:\n${server.output().slice(-4000)}`)
        return result
      })

    it.effect("dlq list/show, replay (--dry-run, then run by the server): an admin key sees every tenant, a tenant key its own only (another's row: exit 3)", () =>
      Effect.gen(function*() {
        const { admin, other, tenant, tenantKey } = yield* Remote
        const mine = yield* Effect.forEach([1, 2, 3], (n) =>
          Effect.map(Factory.insertDeadLetter({ tenantId: tenant, payload: { n }, fingerprint: "fp-remote" }), (d) => d.id))
        const theirs = yield* Factory.insertDeadLetter({ tenantId: other, payload: { secret: "other tenant" } })
        const [adminList, tenantList, adminShow, tenantShow, tenantDry] = yield* Effect.all([
          as(admin, ["dlq", "list", "--tenant", tenant, "--json"]),
          as(tenantKey, ["dlq", "list", "--json"], true),
          as(admin, ["dlq", "show", String(theirs.id), "--json"]),
          as(tenantKey, ["dlq", "show", String(theirs.id), "--json"]),
          as(tenantKey, ["replay", "--filter", "class=validation", "--dry-run", "--json"], true)
        ], { concurrency: 3 })

        assert.deepStrictEqual(json<Page>(yield* ok(adminList)).items.map((d) => d.id), [mine[2]!, mine[1]!, mine[0]!])
        // Row-level security: the tenant key lists its tenant's dead letters only, with no filter.
        assert.deepStrictEqual(json<Page>(yield* ok(tenantList)).items.map((d) => d.id), [mine[2]!, mine[1]!, mine[0]!])
        assert.deepStrictEqual(json<Page["items"][number]>(yield* ok(adminShow)).payload, { secret: "other tenant" })
        assert.strictEqual(tenantShow.code, 3, tenantShow.stdout)
        assert.strictEqual(json<ErrorDoc>(tenantShow).error.tag, "Redrive/DeadLetterNotFound")
        assert.notInclude(tenantShow.stdout, "other tenant")

        // No scope given: a tenant key's request is its own tenant's, under the key's name.
        const dry = json<{ matched: number; dryRun: boolean; tenantId: string; requestedBy: string }>(yield* ok(tenantDry))
        assert.deepStrictEqual([dry.matched, dry.dryRun, dry.tenantId, dry.requestedBy], [3, true, tenant, `key:${tenantKey.name}`])
        const sql = yield* SqlClient.SqlClient
        const [replayed] = yield* sql<{ n: number }>`
          select count(*)::int as n from redrive.job_dlq where id in ${sql.in(mine)} and replayed_at is not null`
        assert.strictEqual(replayed!.n, 0)

        // A bulk replay over --url: the server's replay runner runs it, the command follows it to its end.
        const bulk = json<{ state: string; matched: number; replayed: number; requestedBy: string }>(
          yield* ok(yield* as(admin, ["replay", "--filter", `tenant=${tenant}`, "--filter", "fingerprint=fp-remote", "--json"]))
        )
        assert.deepStrictEqual([bulk.state, bulk.matched, bulk.replayed, bulk.requestedBy], ["done", 3, 3, `key:${admin.name}`])
        const by = yield* sql<{ replayedBy: string }>`select replayed_by from redrive.job_dlq where id in ${sql.in(mine)}`
        assert.deepStrictEqual(by.map((r) => r.replayedBy), Array(3).fill(`key:${admin.name}`))
      }), timeout)

    it.effect("dlq replay as a tenant key: replayed under the key's name, once; jobs show prints the job; another tenant's job exits 3", () =>
      Effect.gen(function*() {
        const { admin, other, tenant, tenantKey } = yield* Remote
        const dead = yield* Factory.insertDeadLetter({ tenantId: tenant, payload: { to: "remote@example.com" } })
        const foreign = yield* Factory.insertJob({ tenantId: other })
        const first = json<{ jobId: number; created: boolean }>(
          yield* ok(yield* as(tenantKey, ["dlq", "replay", String(dead.id), "--request-id", "remote-replay-1", "--json"]))
        )
        assert.isTrue(first.created)
        const [again, shown, foreignShow] = yield* Effect.all([
          as(tenantKey, ["dlq", "replay", String(dead.id), "--json"], true),
          as(admin, ["jobs", "show", String(first.jobId), "--json"]),
          as(tenantKey, ["jobs", "show", String(foreign.id), "--json"])
        ], { concurrency: 3 })
        assert.deepStrictEqual(json(yield* ok(again)), { jobId: first.jobId, created: false })
        const job = json<{ id: number; tenantId: string; replayOf: number; payload: unknown }>(yield* ok(shown))
        assert.deepStrictEqual([job.id, job.tenantId, job.replayOf, job.payload], [first.jobId, tenant, dead.id, { to: "remote@example.com" }])
        assert.strictEqual(foreignShow.code, 3, foreignShow.stdout)
        assert.strictEqual(json<ErrorDoc>(foreignShow).error.tag, "Redrive/JobNotFound")

        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ replayedBy: string; replayJobId: string }>`
          select replayed_by, replay_job_id from redrive.job_dlq where id = ${dead.id}`
        assert.deepStrictEqual(rows.map((r) => [r.replayedBy, Number(r.replayJobId)]), [[`key:${tenantKey.name}`, first.jobId]])
      }), timeout)

    it.effect("pause/controls/resume of its own scope and their audit trail (controls --events); a tenant key pausing *, listing keys or purging exits 5 and changes nothing; an admin key purges", () =>
      Effect.gen(function*() {
        const { admin, other, tenant, tenantKey } = yield* Remote
        const scope = `${tenant}/emails`
        const paused = json<ControlChange>(yield* ok(yield* as(tenantKey, ["pause", scope, "--reason", "SES outage", "--json"])))
        assert.deepStrictEqual(
          [paused.control?.tenantId, paused.control?.queue, paused.control?.state, paused.control?.initiatedBy],
          [tenant, "emails", "paused", `key:${tenantKey.name}`]
        )
        const [controls, everyTenant, keys] = yield* Effect.all([
          as(tenantKey, ["controls", "--json"], true),
          as(tenantKey, ["pause", "*", "--reason", "not mine", "--json"]),
          as(tenantKey, ["keys", "list", "--json"])
        ], { concurrency: 3 })
        const rows = json<ReadonlyArray<{ tenantId: string; queue: string; state: string; reason: string }>>(yield* ok(controls))
        assert.deepStrictEqual(rows.map((c) => [c.tenantId, c.queue, c.state, c.reason]), [[tenant, "emails", "paused", "SES outage"]])
        for (const refused of [everyTenant, keys]) {
          assert.strictEqual(refused.code, 5, refused.stdout)
          assert.strictEqual(json<ErrorDoc>(refused).error.tag, "Redrive/Forbidden")
        }
        const sql = yield* SqlClient.SqlClient
        const inForce = () =>
          sql<{ tenantId: string; queue: string }>`select tenant_id, queue from redrive.control order by tenant_id, queue`
        assert.deepStrictEqual((yield* inForce()).map((c) => [c.tenantId, c.queue]), [[tenant, "emails"]])

        const resumed = json<ControlChange>(yield* ok(yield* as(tenantKey, ["resume", scope, "--json"])))
        assert.strictEqual(resumed.control?.state, "paused")
        assert.deepStrictEqual(yield* inForce(), [])

        // The audit trail over --url (the tenant key's own tenant), and purge: admin keys only.
        const queue = Factory.queue()
        yield* Effect.all([1, 2].map(() => Factory.insertDeadLetter({ tenantId: other, queue })))
        const [events, tenantPurge, adminDry] = yield* Effect.all([
          as(tenantKey, ["controls", "--events", "--json"], true),
          as(tenantKey, ["purge", "dlq", "--filter", `queue=${queue}`, "--dry-run", "--json"]),
          as(admin, ["purge", "dlq", "--filter", `queue=${queue}`, "--dry-run", "--json"])
        ], { concurrency: 3 })
        const trail = json<ReadonlyArray<{ tenantId: string; queue: string; action: string; actor: string }>>(yield* ok(events))
        assert.deepStrictEqual(
          trail.map((e) => [e.tenantId, e.queue, e.action, e.actor]),
          [[tenant, "emails", "resume", `key:${tenantKey.name}`], [tenant, "emails", "pause", `key:${tenantKey.name}`]]
        )
        assert.strictEqual(tenantPurge.code, 5, tenantPurge.stdout)
        assert.strictEqual(json<ErrorDoc>(tenantPurge).error.tag, "Redrive/Forbidden")
        assert.deepStrictEqual(json(yield* ok(adminDry)), { count: 2, dryRun: true, auditId: null })
        const purged = json<{ count: number; auditId: number }>(
          yield* ok(yield* as(admin, ["purge", "dlq", "--filter", `queue=${queue}`, "--yes", "--reason", "cleanup", "--json"]))
        )
        assert.strictEqual(purged.count, 2)
        const audit = yield* sql<{ purgedBy: string; deleted: number }>`
          select purged_by, (select count(*)::int from redrive.job_dlq where queue = ${queue}) as deleted
          from redrive.dlq_purge where id = ${purged.auditId}`
        assert.deepStrictEqual(audit.map((r) => [r.purgedBy, r.deleted]), [[`key:${admin.name}`, 0]])
      }), timeout)

    it.effect("a key works until it is revoked, then exits 5 (Unauthenticated)", () =>
      Effect.gen(function*() {
        const { admin, doomedKey } = yield* Remote
        yield* ok(yield* as(doomedKey, ["dlq", "list", "--json"]))
        const revoked = json<{ id: number; revokedAt: string | null }>(yield* ok(yield* as(admin, ["keys", "revoke", String(doomedKey.id), "--json"])))
        assert.deepStrictEqual([revoked.id, typeof revoked.revokedAt], [doomedKey.id, "string"])
        const refused = yield* as(doomedKey, ["dlq", "list", "--json"], true)
        assert.strictEqual(refused.code, 5, refused.stdout)
        assert.strictEqual(json<ErrorDoc>(refused).error.tag, "Redrive/Unauthenticated")
      }), timeout)
  })
})
