import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { ControlRepo } from "../src/ControlRepo.js"
import { JobId, StoredTenantId, TenantId } from "../src/Ids.js"
import { JobDlqRepo, layerInsecureDefault } from "../src/JobDlqRepo.js"
import { JobRepo } from "../src/JobRepo.js"
import { withTenant } from "../src/Tenant.js"
import { TestDatabase } from "../src/testing/index.js"
import { Factory as F } from "../src/testing/index.js"

const a = F.tenant()
const b = F.tenant()

const Test = Layer.mergeAll(JobRepo.Default, layerInsecureDefault, ControlRepo.Default).pipe(
  Layer.provideMerge(TestDatabase.layer)
)

/** One row per tenant table for each of a and b, written as the owner (no RLS). */
const seed = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* JobRepo
  const dlq = yield* JobDlqRepo
  const ids = { job: {} as Record<string, number>, dlq: {} as Record<string, number> }
  for (const t of [a, b]) {
    ids.job[t] = (yield* jobs.insert(F.job({ tenantId: t }))).id
    ids.dlq[t] = (yield* dlq.insert(F.deadLetter({ tenantId: t }))).id
    yield* sql`insert into redrive.control (tenant_id, queue, state, initiated_by) values (${t}, 'q', 'paused', 'ops')
               on conflict do nothing`
    yield* sql`insert into redrive.control_event (tenant_id, queue, action, actor) values (${t}, 'q', 'pause', 'ops')`
    yield* sql`insert into redrive.replay_request (tenant_id, filter, requested_by) values (${t}, '{}', 'ops')`
    const channel = yield* sql<{ id: string }>`
      insert into redrive.alert_channel (tenant_id, name, kind, url) values (${t}, 'hook', 'webhook', 'https://example.com/h')
      on conflict (tenant_id, name) do update set enabled = true
      returning id`
    yield* sql`insert into redrive.alert_delivery (channel_id, tenant_id, event, payload)
               values (${channel[0]!.id}, ${t}, 'job.dead_lettered', '{}')`
    yield* sql`insert into redrive.failure_stat (tenant_id, queue, type, error_class, bucket, failures)
               values (${t}, 'q', 't', 'unknown', date_trunc('minute', now()), 1)
               on conflict do nothing`
  }
  return ids
})

const tenantTables = [
  "job", "job_dlq", "control", "control_event", "replay_request", "alert_channel", "alert_delivery", "failure_stat"
] as const

layer(Test, { excludeTestServices: true })("row-level security under withTenant", (it) => {
  it.effect("a tenant sees only its own rows in every tenant table and view", () =>
    Effect.gen(function*() {
      yield* seed
      const sql = yield* SqlClient.SqlClient
      for (const table of tenantTables) {
        const all = yield* sql<{ tenantId: string }>`select tenant_id from ${sql(`redrive.${table}`)}`
        assert.includeMembers(all.map((r) => r.tenantId), [a, b], `owner sees both in ${table}`)
        const seen = yield* withTenant(a, sql<{ tenantId: string }>`select tenant_id from ${sql(`redrive.${table}`)}`)
        assert.isAbove(seen.length, 0, table)
        // A tenant also reads the global ('*') control rows that apply to it, by design.
        const visible = table === "control" ? [a, "*"] : [a]
        assert.isTrue(seen.every((r) => visible.includes(r.tenantId)), `${table} leaked ${JSON.stringify(seen)}`)
      }
      for (const view of ["queue_health", "dlq_inspector", "failure_stats", "alert_backlog"]) {
        const seen = yield* withTenant(a, sql<{ tenantId: string }>`select tenant_id from ${sql(`redrive.${view}`)}`)
        assert.isAbove(seen.length, 0, view)
        assert.isTrue(seen.every((r) => r.tenantId === a), `${view} leaked`)
      }
      const keys = yield* Effect.flip(withTenant(a, sql`select * from redrive.api_key`))
      assert.include(String(keys.cause), "permission denied")
      // The circuit breaker's tables hold no tenant's data: a tenant reads none of them.
      for (const table of ["circuit", "circuit_count"]) {
        const denied = yield* Effect.flip(withTenant(a, sql`select * from ${sql(`redrive.${table}`)}`))
        assert.include(String(denied.cause), "permission denied", table)
      }
    }))

  it.effect("another tenant's rows cannot be read by id, updated or deleted", () =>
    Effect.gen(function*() {
      const ids = yield* seed
      const sql = yield* SqlClient.SqlClient
      const jobs = yield* JobRepo
      const dlq = yield* JobDlqRepo
      const bJob = JobId.make(ids.job[b]!)
      assert.isTrue(Option.isNone(yield* withTenant(a, jobs.findById(bJob))))
      assert.isTrue(Option.isNone(yield* withTenant(a, dlq.get(F.dlqId(ids.dlq[b]!)))))
      const updated = yield* withTenant(a, sql`update redrive.job set priority = 1 where id = ${bJob} returning id`)
      assert.strictEqual(updated.length, 0)
      // job_dlq and the other tables are read-only for a tenant: writing to them is refused outright.
      for (const table of tenantTables) {
        const gone = yield* Effect.either(
          withTenant(a, sql`delete from ${sql(`redrive.${table}`)} where tenant_id = ${b} returning 1`)
        )
        assert.isTrue(gone._tag === "Left" && String(gone.left.cause).includes("permission denied"), table)
      }
      const stillThere = yield* sql<{ priority: number }>`select priority from redrive.job where id = ${bJob}`
      assert.strictEqual(stillThere[0]!.priority, 5)
      // Stamping b's dead letter as replayed is refused: a tenant writes no dead letter, its own or not.
      const replay = yield* Effect.flip(
        withTenant(a, dlq.markReplayed({ id: F.dlqId(ids.dlq[b]!), replayedBy: "a", replayJobId: JobId.make(1) }))
      )
      assert.strictEqual(replay._tag, "Redrive/DatabaseError")
      assert.include(String(replay), "permission denied")
    }))

  it.effect("inserting or moving a row into another tenant fails and rolls the transaction back", () =>
    Effect.gen(function*() {
      const ids = yield* seed
      const sql = yield* SqlClient.SqlClient
      const controls = yield* ControlRepo
      const before = yield* sql<{ n: string }>`select count(*) as n from redrive.job where tenant_id = ${a}`
      // As enqueue writes a job (no id, no lineage).
      const enqueue = (tenantId: string) =>
        sql`insert into redrive.job (tenant_id, queue, type, payload) values (${tenantId}, 'q', 'email.send', '{}')`
      const insert = yield* Effect.flip(withTenant(a, Effect.zipRight(enqueue(a), enqueue(b))))
      assert.include(String(insert.cause), "row-level security")
      const after = yield* sql<{ n: string }>`select count(*) as n from redrive.job where tenant_id = ${a}`
      assert.strictEqual(after[0]!.n, before[0]!.n, "the tenant's own insert was rolled back too")
      const move = yield* Effect.flip(
        withTenant(a, sql`update redrive.job set tenant_id = ${b} where id = ${ids.job[a]!}`)
      )
      assert.include(String(move.cause), "permission denied")
      const pause = yield* Effect.flip(withTenant(a, controls.upsert({
        tenantId: a,
        queue: F.queue("q2"),
        state: "paused",
        reason: null,
        initiatedBy: "a",
        initiatedAt: new Date(),
        drainCompletedAt: null
      })))
      assert.strictEqual(pause._tag, "Redrive/DatabaseError")
      const rows = yield* sql`select 1 from redrive.control where tenant_id in (${a}, ${b}) and queue = 'q2'`
      assert.strictEqual(rows.length, 0)
    }))

  it.effect("a tenant sees global ('*') pauses that affect it but cannot change them", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`insert into redrive.control (tenant_id, queue, state, initiated_by) values ('*', 'emails', 'paused', 'admin')
                 on conflict do nothing`
      const seen = yield* withTenant(a, sql<{ tenantId: string }>`select tenant_id from redrive.control where queue = 'emails'`)
      assert.deepStrictEqual(seen.map((r) => r.tenantId), ["*"])
      const removed = yield* Effect.flip(withTenant(a, sql`delete from redrive.control where tenant_id = '*'`))
      assert.include(String(removed.cause), "permission denied")
    }))

  it.effect("a block cannot open inside a transaction of the runtime's connection", () =>
    Effect.gen(function*() {
      yield* seed
      const sql = yield* SqlClient.SqlClient
      const [refused, after] = yield* sql.withTransaction(Effect.gen(function*() {
        const refused = yield* Effect.flip(withTenant(a, sql`select 1`))
        return [refused, yield* probe] as const
      }))
      assert.strictEqual(refused._tag, "Redrive/TenantInTransaction")
      // The enclosing transaction is untouched: still the runtime, seeing every tenant.
      assert.deepStrictEqual(after, { role: "redrive_runtime", tenant: null, sees: [a, b].sort() })
    }))

  /** Who the session is and what it sees: role, tenant setting, tenants visible in job. */
  const probe = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ role: string; tenant: string | null }>`
      select current_user as role, redrive.current_tenant() as tenant`
    const seen = yield* sql<{ tenantId: string }>`
      select distinct tenant_id from redrive.job where tenant_id in (${a}, ${b}) order by tenant_id`
    return { role: row!.role, tenant: row!.tenant, sees: seen.map((r) => r.tenantId) }
  })

  it.effect("a nested block for the same tenant keeps the outer block's role, tenant and view", () =>
    Effect.gen(function*() {
      yield* seed
      const [before, after] = yield* withTenant(a, Effect.gen(function*() {
        const before = yield* probe
        yield* withTenant(a, probe)
        const after = yield* probe
        return [before, after] as const
      }))
      assert.deepStrictEqual(before, { role: "redrive_tenant", tenant: a, sees: [a] })
      assert.deepStrictEqual(after, before)
    }))

  it.effect("a nested block for another tenant is refused, and the outer block keeps its view", () =>
    Effect.gen(function*() {
      yield* seed
      const [refused, after] = yield* withTenant(a, Effect.gen(function*() {
        const refused = yield* Effect.flip(withTenant(b, probe))
        return [refused, yield* probe] as const
      }))
      assert.strictEqual(refused._tag, "Redrive/TenantScopeConflict")
      if (refused._tag === "Redrive/TenantScopeConflict") {
        assert.strictEqual(refused.current, a)
        assert.strictEqual(refused.requested, b)
      }
      assert.deepStrictEqual(after, { role: "redrive_tenant", tenant: a, sees: [a] })
    }))

  it.effect("after a block, its connection keeps nothing of it: the next block or statement starts clean", () =>
    Effect.gen(function*() {
      yield* seed
      const sql = yield* SqlClient.SqlClient
      yield* withTenant(a, probe)
      yield* Effect.flip(withTenant(a, Effect.zipRight(probe, Effect.fail("boom" as const))))
      yield* withTenant(a, Effect.never).pipe(Effect.timeout("100 millis"), Effect.flip)
      // Every tenant-pool connection, used or fresh, has no token outside a block.
      const leftovers = yield* withTenant(b, Effect.all(Array.from({ length: 3 }, () => probe)))
      assert.isTrue(leftovers.every((p) => p.tenant === b && p.sees.length === 1 && p.sees[0] === b))
      const outside = yield* probe
      assert.deepStrictEqual(outside, { role: "redrive_runtime", tenant: null, sees: [a, b].sort() })
      const [token] = yield* sql<{ t: string | null }>`select current_setting('redrive.tenant_token', true) as t`
      assert.include([null, ""], token?.t ?? null)
    }))

  it.effect("withTenant is pipeable", () =>
    Effect.gen(function*() {
      yield* seed
      const seen = yield* probe.pipe(withTenant(b))
      assert.deepStrictEqual(seen, { role: "redrive_tenant", tenant: b, sees: [b] })
    }))

  it.effect("the reserved ids `default` and `*` are no tenant's: a block for them is refused", () =>
    Effect.gen(function*() {
      yield* seed
      for (const reserved of ["default", "*"]) {
        const refused = yield* Effect.flip(withTenant(StoredTenantId.make(reserved, true), probe))
        assert.strictEqual(refused._tag, "Redrive/ReservedTenant")
      }
      assert.throws(() => TenantId.make("default"))
      assert.throws(() => TenantId.make("*"))
      // Rows keep `default` for work enqueued without a tenant.
      assert.strictEqual(StoredTenantId.make("default"), "default")
    }))
})
