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
      const deleted = yield* withTenant(a, sql`delete from redrive.job_dlq where id = ${ids.dlq[b]!} returning id`)
      assert.strictEqual(deleted.length, 0)
      for (const table of tenantTables) {
        const gone = yield* withTenant(a, sql`delete from ${sql(`redrive.${table}`)} where tenant_id = ${b} returning 1`)
        assert.strictEqual(gone.length, 0, table)
      }
      const stillThere = yield* sql<{ priority: number }>`select priority from redrive.job where id = ${bJob}`
      assert.strictEqual(stillThere[0]!.priority, 5)
      // Replaying (stamping) b's dead letter as a is "not found", not a silent success.
      const replay = yield* Effect.flip(
        withTenant(a, dlq.markReplayed({ id: F.dlqId(ids.dlq[b]!), replayedBy: "a", replayJobId: JobId.make(1) }))
      )
      assert.strictEqual(replay._tag, "DeadLetterNotFound")
    }))

  it.effect("inserting or moving a row into another tenant fails and rolls the transaction back", () =>
    Effect.gen(function*() {
      const ids = yield* seed
      const sql = yield* SqlClient.SqlClient
      const jobs = yield* JobRepo
      const controls = yield* ControlRepo
      const before = yield* sql<{ n: string }>`select count(*) as n from redrive.job where tenant_id = ${a}`
      const insert = yield* Effect.flip(withTenant(a,
        Effect.zipRight(jobs.insert(F.job({ tenantId: a })), jobs.insert(F.job({ tenantId: b })))))
      assert.strictEqual(insert._tag, "DatabaseError")
      assert.include(insert.message, "row-level security")
      const after = yield* sql<{ n: string }>`select count(*) as n from redrive.job where tenant_id = ${a}`
      assert.strictEqual(after[0]!.n, before[0]!.n, "the tenant's own insert was rolled back too")
      const move = yield* Effect.flip(
        withTenant(a, sql`update redrive.job set tenant_id = ${b} where id = ${ids.job[a]!}`)
      )
      assert.include(String(move.cause), "row-level security")
      const pause = yield* Effect.flip(withTenant(a, controls.upsert({
        tenantId: b,
        queue: F.queue("q2"),
        state: "paused",
        reason: null,
        initiatedBy: "a",
        initiatedAt: new Date(),
        drainCompletedAt: null
      })))
      assert.strictEqual(pause._tag, "DatabaseError")
      const rows = yield* sql`select 1 from redrive.control where tenant_id = ${b} and queue = 'q2'`
      assert.strictEqual(rows.length, 0)
    }))

  it.effect("a tenant sees global ('*') pauses that affect it but cannot change them", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`insert into redrive.control (tenant_id, queue, state, initiated_by) values ('*', 'emails', 'paused', 'admin')
                 on conflict do nothing`
      const seen = yield* withTenant(a, sql<{ tenantId: string }>`select tenant_id from redrive.control where queue = 'emails'`)
      assert.deepStrictEqual(seen.map((r) => r.tenantId), ["*"])
      const removed = yield* withTenant(a, sql`delete from redrive.control where tenant_id = '*' returning 1`)
      assert.strictEqual(removed.length, 0)
    }))

  it.effect("withTenant leaves no role or tenant behind in an enclosing transaction", () =>
    Effect.gen(function*() {
      yield* seed
      const sql = yield* SqlClient.SqlClient
      const after = yield* sql.withTransaction(Effect.gen(function*() {
        yield* withTenant(a, sql`select 1`)
        return yield* sql<{ role: string; tenant: string | null }>`
          select current_user as role, nullif(current_setting('redrive.tenant_id', true), '') as tenant`
      }))
      assert.notStrictEqual(after[0]!.role, "redrive_tenant")
      assert.isNull(after[0]!.tenant)
      // Back as the owner: both tenants' rows are visible again.
      const total = yield* sql<{ n: string }>`select count(distinct tenant_id) as n from redrive.job where tenant_id in (${a}, ${b})`
      assert.strictEqual(Number(total[0]!.n), 2)
    }))

  /** Who the session is and what it sees: role, tenant setting, tenants visible in job. */
  const probe = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ role: string; tenant: string | null }>`
      select current_user as role, nullif(current_setting('redrive.tenant_id', true), '') as tenant`
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
      assert.strictEqual(refused._tag, "TenantScopeConflict")
      if (refused._tag === "TenantScopeConflict") {
        assert.strictEqual(refused.current, a)
        assert.strictEqual(refused.requested, b)
      }
      assert.deepStrictEqual(after, { role: "redrive_tenant", tenant: a, sees: [a] })
    }))

  it.effect("inside a transaction, the block puts back what it found after success, failure and interruption", () =>
    Effect.gen(function*() {
      yield* seed
      const sql = yield* SqlClient.SqlClient
      const results = yield* sql.withTransaction(Effect.gen(function*() {
        // The enclosing transaction has a tenant setting of its own (and the owner's role).
        yield* sql`select set_config('redrive.tenant_id', 'outer-value', true)`
        const start = yield* probe
        yield* withTenant(a, sql`select 1`)
        const afterSuccess = yield* probe
        yield* Effect.flip(withTenant(a, Effect.zipRight(sql`select 1`, Effect.fail("boom" as const))))
        const afterFailure = yield* probe
        yield* withTenant(a, Effect.never).pipe(Effect.timeout("100 millis"), Effect.flip)
        const afterInterruption = yield* probe
        return { start, afterSuccess, afterFailure, afterInterruption }
      }))
      assert.strictEqual(results.start.tenant, "outer-value")
      assert.notStrictEqual(results.start.role, "redrive_tenant")
      assert.includeMembers(results.start.sees, [a, b])
      assert.deepStrictEqual(results.afterSuccess, results.start)
      assert.deepStrictEqual(results.afterFailure, results.start)
      assert.deepStrictEqual(results.afterInterruption, results.start)
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
        assert.strictEqual(refused._tag, "ReservedTenant")
      }
      assert.throws(() => TenantId.make("default"))
      assert.throws(() => TenantId.make("*"))
      // Rows keep `default` for work enqueued without a tenant.
      assert.strictEqual(StoredTenantId.make("default"), "default")
    }))
})
