import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory, Ids, Tenant } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Exit, Layer, Option } from "effect"
import { ErrorGroups } from "../src/ErrorGroups.js"
import * as ErrorGroupsModule from "../src/ErrorGroups.js"
import * as JobRegistry from "../src/JobRegistry.js"
import { Replay } from "../src/Replay.js"
import * as ReplayModule from "../src/Replay.js"

const TestLayer = Layer.mergeAll(ErrorGroupsModule.layer, ReplayModule.layer()).pipe(
  Layer.provideMerge(JobRegistry.layer([])),
  Layer.provideMerge(TestDatabase.layer)
)

const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 9, minute, 0, 123))
const historyWith = (message: string, stack: string): ErrorHistory.ErrorHistory => [{
  attempt: 3,
  at: at(0),
  kind: "failed",
  errorClass: "external_api",
  tag: "HttpError",
  message,
  stack
}]

/**
 * One type of its own (groups span tenants, so a fresh type keeps the test's groups its own):
 * g1 = (external_api, fp-1): tenant a × 3 (minutes 1–3; the first is the sample), b × 2 (4–5);
 * g2 = (validation, fp-2): tenant c × 1 (minute 6); g3 = (external_api, fp-3): tenant a × 1 (0).
 */
const seed = Effect.gen(function*() {
  const type = Factory.jobType()
  const [a, b, c] = [Factory.tenant(), Factory.tenant(), Factory.tenant()]
  const insert = (tenantId: Ids.TenantId, errorClass: string, fingerprint: string, minute: number, reason: string) =>
    Effect.map(
      Factory.insertDeadLetter({
        tenantId,
        type,
        errorClass: Ids.ErrorClass.make(errorClass),
        fingerprint,
        dlqAt: at(minute),
        errorReason: reason,
        errorHistory: historyWith(reason, `Error: ${reason}\n    at handler (job.ts:${minute}:1)`)
      }),
      (row) => Number(row.id)
    )
  const g1 = [
    yield* insert(a, "external_api", "fp-1", 1, "first of g1"),
    yield* insert(a, "external_api", "fp-1", 2, "second"),
    yield* insert(a, "external_api", "fp-1", 3, "third"),
    yield* insert(b, "external_api", "fp-1", 4, "fourth"),
    yield* insert(b, "external_api", "fp-1", 5, "fifth")
  ]
  const g2 = [yield* insert(c, "validation", "fp-2", 6, "bad input")]
  const g3 = [yield* insert(a, "external_api", "fp-3", 0, "other")]
  const key1 = { type, errorClass: "external_api", fingerprint: "fp-1" }
  return { type, a, b, c, g1, g2, g3, key1 }
})

const keysOf = (groups: ReadonlyArray<ErrorGroupsModule.ErrorGroup>) => groups.map((g) => g.fingerprint)

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("ErrorGroups", (it) => {
  it.effect("counts, tenants, first/last seen and the sample of each group, across tenants and per tenant", () =>
    Effect.gen(function*() {
      const groups = yield* ErrorGroups
      const s = yield* seed
      const page = yield* groups.list({ type: s.type })
      assert.deepStrictEqual(page.groups, [
        {
          type: s.type,
          errorClass: "validation",
          fingerprint: "fp-2",
          tenantId: null,
          count: 1,
          total: 1,
          tenants: 1,
          firstSeen: at(6),
          lastSeen: at(6),
          sampleDlqId: s.g2[0]!,
          sampleMessage: "bad input"
        },
        {
          type: s.type,
          errorClass: "external_api",
          fingerprint: "fp-1",
          tenantId: null,
          count: 5,
          total: 5,
          tenants: 2,
          firstSeen: at(1),
          lastSeen: at(5),
          sampleDlqId: s.g1[0]!,
          sampleMessage: "first of g1"
        },
        {
          type: s.type,
          errorClass: "external_api",
          fingerprint: "fp-3",
          tenantId: null,
          count: 1,
          total: 1,
          tenants: 1,
          firstSeen: at(0),
          lastSeen: at(0),
          sampleDlqId: s.g3[0]!,
          sampleMessage: "other"
        }
      ])
      assert.isNull(page.nextCursor)
      // By count, largest first; ties by key.
      assert.deepStrictEqual(keysOf((yield* groups.list({ type: s.type, orderBy: "count" })).groups), [
        "fp-1",
        "fp-3",
        "fp-2"
      ])
      assert.deepStrictEqual(keysOf((yield* groups.list({ type: s.type, errorClass: "validation" })).groups), ["fp-2"])

      const detail = yield* groups.get(s.key1)
      assert.strictEqual(detail.sampleStack, "Error: first of g1\n    at handler (job.ts:1:1)")
      assert.strictEqual(detail.count, 5)

      const ofA = yield* groups.list({ type: s.type, tenantId: s.a })
      assert.deepStrictEqual(ofA.groups.map((g) => [g.fingerprint, g.tenantId, g.count, g.tenants, g.firstSeen, g.lastSeen]), [
        ["fp-1", s.a, 3, 1, at(1), at(3)],
        ["fp-3", s.a, 1, 1, at(0), at(0)]
      ])
      const ofB = yield* groups.get({ ...s.key1, tenantId: s.b })
      assert.deepInclude(ofB, { count: 2, total: 2, sampleDlqId: s.g1[3]!, sampleMessage: "fourth" })
      assert.strictEqual(ofB.sampleStack, "Error: fourth\n    at handler (job.ts:4:1)")
    }))

  it.effect("pages with a cursor in either order; a cursor of the other order or a forged one is refused", () =>
    Effect.gen(function*() {
      const groups = yield* ErrorGroups
      const s = yield* seed
      for (const orderBy of ["lastSeen", "count"] as const) {
        const seen: Array<string> = []
        let cursor: string | undefined
        for (let i = 0; i < 5; i++) {
          const page: ErrorGroupsModule.ErrorGroupPage = yield* groups.list({ type: s.type, orderBy, limit: 1, cursor })
          seen.push(...keysOf(page.groups))
          if (page.nextCursor === null) break
          cursor = page.nextCursor
        }
        assert.deepStrictEqual(seen, orderBy === "count" ? ["fp-1", "fp-3", "fp-2"] : ["fp-2", "fp-1", "fp-3"])
      }
      const first = yield* groups.list({ type: s.type, limit: 1 })
      const wrongOrder = yield* Effect.flip(groups.list({ type: s.type, orderBy: "count", cursor: first.nextCursor! }))
      assert.deepInclude(wrongOrder, { _tag: "Redrive/InvalidInput", field: "cursor" })
      const forged = yield* Effect.flip(groups.list({ type: s.type, cursor: "not-a-cursor" }))
      assert.deepInclude(forged, { _tag: "Redrive/InvalidInput", field: "cursor" })
      const badLimit = yield* Effect.flip(groups.list({ limit: 0 }))
      assert.strictEqual(badLimit._tag, "Redrive/InvalidInput")
    }))

  it.effect("a tenant sees only its own share of its groups, and none of the cross-tenant table", () =>
    Effect.gen(function*() {
      const groups = yield* ErrorGroups
      const sql = yield* SqlClient.SqlClient
      const s = yield* seed
      const asB = yield* Tenant.withTenant(s.b, groups.list({ type: s.type }))
      assert.deepStrictEqual(asB.groups.map((g) => [g.fingerprint, g.tenantId, g.count]), [["fp-1", s.b, 2]])
      // Asking for another tenant inside a block still shows the block's tenant.
      const asking = yield* Tenant.withTenant(s.b, groups.list({ type: s.type, tenantId: s.a }))
      assert.deepStrictEqual(asking.groups.map((g) => [g.tenantId, g.count]), [[s.b, 2]])
      const notHis = yield* Effect.flip(
        Tenant.withTenant(s.c, groups.get({ type: s.type, errorClass: "external_api", fingerprint: "fp-3" }))
      )
      assert.strictEqual(notHis._tag, "Redrive/ErrorGroupNotFound")
      const raw = yield* Tenant.withTenant(
        s.c,
        sql<{ tenantId: string }>`select tenant_id from redrive.dlq_group_tenant where type = ${s.type}`
      )
      assert.deepStrictEqual(raw.map((r) => r.tenantId), [s.c])
      const global = yield* Effect.exit(Tenant.withTenant(s.c, sql`select * from redrive.dlq_group`))
      assert.isTrue(Exit.isFailure(global), "the cross-tenant table is closed to tenants")
    }))

  it.effect("a replay lowers the counts (and the tenants when a tenant's share empties); total and seen stay", () =>
    Effect.gen(function*() {
      const groups = yield* ErrorGroups
      const replay = yield* Replay
      const s = yield* seed
      yield* replay.replayOne({ id: s.g1[0]!, by: "alice" })
      yield* replay.replayOne({ id: s.g1[1]!, by: "alice" })
      assert.deepInclude(yield* groups.get(s.key1), { count: 3, total: 5, tenants: 2, firstSeen: at(1), lastSeen: at(5) })
      yield* replay.replayOne({ id: s.g1[2]!, by: "alice" })
      assert.deepInclude(yield* groups.get(s.key1), { count: 2, total: 5, tenants: 1 })
      assert.deepInclude(yield* groups.get({ ...s.key1, tenantId: s.a }), { count: 0, total: 3, tenants: 0 })
      // Pruning replayed dead letters changes nothing; pruning a pending one lowers the count.
      const sql = yield* SqlClient.SqlClient
      yield* sql`delete from redrive.job_dlq where id = any(${[s.g1[0]!, s.g1[3]!]}::bigint[])`
      assert.deepInclude(yield* groups.get(s.key1), { count: 1, total: 5, tenants: 1 })
      // A new dead letter of the group counts again.
      yield* Factory.insertDeadLetter({
        tenantId: s.c,
        type: s.type,
        errorClass: Ids.ErrorClass.make("external_api"),
        fingerprint: "fp-1",
        dlqAt: at(9)
      })
      assert.deepInclude(yield* groups.get(s.key1), { count: 2, total: 6, tenants: 2, firstSeen: at(1), lastSeen: at(9) })
    }))

  it.effect("an update counts pending rows after minus before: replays and undone replays move counts, other edits none", () =>
    Effect.gen(function*() {
      const groups = yield* ErrorGroups
      const sql = yield* SqlClient.SqlClient
      const s = yield* seed
      const all = [...s.g1, ...s.g2, ...s.g3]
      // An edit that replays nothing (one statement over every row of the type) moves no count.
      yield* sql`update redrive.job_dlq set error_reason = error_reason || '.' where id = any(${all}::bigint[])`
      assert.deepInclude(yield* groups.get(s.key1), { count: 5, total: 5, tenants: 2 })
      // One statement replaying some rows of two groups and editing others.
      yield* sql`update redrive.job_dlq
        set replayed_at = case when id = any(${[s.g1[0]!, s.g1[3]!, s.g2[0]!]}::bigint[]) then now() end,
            replayed_by = case when id = any(${[s.g1[0]!, s.g1[3]!, s.g2[0]!]}::bigint[]) then 'x' end,
            replay_job_id = case when id = any(${[s.g1[0]!, s.g1[3]!, s.g2[0]!]}::bigint[]) then id + 1000000000 end
        where id = any(${all}::bigint[])`
      assert.deepInclude(yield* groups.get(s.key1), { count: 3, total: 5, tenants: 2 })
      assert.deepInclude(yield* groups.get({ ...s.key1, fingerprint: "fp-2", errorClass: "validation" }), {
        count: 0,
        tenants: 0
      })
      // Undone (replayed_at back to null): counted again.
      yield* sql`update redrive.job_dlq set replayed_at = null, replayed_by = null, replay_job_id = null
        where id = any(${all}::bigint[])`
      assert.deepInclude(yield* groups.get(s.key1), { count: 5, total: 5, tenants: 2 })
      assert.deepInclude(yield* groups.get({ ...s.key1, fingerprint: "fp-3" }), { count: 1, total: 1, tenants: 1 })
    }))

  it.effect("a group's filter bulk-replays exactly its dead letters, and the group empties", () =>
    Effect.gen(function*() {
      const groups = yield* ErrorGroups
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      const s = yield* seed
      const filter = groups.toFilter(s.key1)
      const request = yield* replay.createBulk({ filter, scopeTenant: "*", requestedBy: "alice" })
      const run = yield* replay.runBulk(request.id, "test-runner")
      assert.strictEqual(run._tag, "Done")
      const replayed = yield* sql<{ id: string }>`
        select id from redrive.job_dlq where type = ${s.type} and replayed_at is not null order by id`
      assert.deepStrictEqual(replayed.map((r) => Number(r.id)), s.g1)
      assert.deepStrictEqual(keysOf((yield* groups.list({ type: s.type })).groups), ["fp-2", "fp-3"])
      assert.deepInclude(
        (yield* groups.list({ type: s.type, includeEmpty: true })).groups.find((g) => g.fingerprint === "fp-1"),
        { count: 0, total: 5, tenants: 0 }
      )
      // One tenant's share: the filter carries the tenant.
      assert.deepStrictEqual(groups.toFilter({ ...s.key1, tenantId: s.a }), { ...s.key1, tenantId: s.a })
    }))

  it.effect("mutes are audited rows: muted for a while, per tenant or for all, and unmuted", () =>
    Effect.gen(function*() {
      const groups = yield* ErrorGroups
      const sql = yield* SqlClient.SqlClient
      const s = yield* seed
      assert.isTrue(Option.isNone(yield* groups.isMuted(s.key1)))
      const forA = yield* groups.mute({ ...s.key1, tenantId: s.a, duration: "1 hour", by: "alice", reason: "known" })
      assert.deepInclude(forA, { tenantId: s.a, by: "alice", reason: "known" })
      assert.isTrue(forA.mutedUntil.getTime() - forA.at.getTime() === 3_600_000)
      assert.isTrue(Option.isSome(yield* groups.isMuted({ ...s.key1, tenantId: s.a })))
      assert.isTrue(Option.isNone(yield* groups.isMuted({ ...s.key1, tenantId: s.b })))
      assert.isTrue(Option.isNone(yield* groups.isMuted(s.key1)))

      yield* groups.mute({ ...s.key1, duration: "30 minutes", by: "bob", reason: "vendor outage" })
      assert.isTrue(Option.isSome(yield* groups.isMuted({ ...s.key1, tenantId: s.b })), "a mute for all covers b")
      yield* groups.unmute({ ...s.key1, by: "bob", reason: "fixed" })
      assert.isTrue(Option.isNone(yield* groups.isMuted({ ...s.key1, tenantId: s.b })))
      assert.isTrue(Option.isSome(yield* groups.isMuted({ ...s.key1, tenantId: s.a })), "a's own mute stands")

      const audit = yield* sql<{ by: string; reason: string; tenantId: string | null }>`
        select by, reason, tenant_id from redrive.dlq_group_mute where type = ${s.type} order by id`
      assert.deepStrictEqual(audit, [
        { by: "alice", reason: "known", tenantId: s.a },
        { by: "bob", reason: "vendor outage", tenantId: null },
        { by: "bob", reason: "fixed", tenantId: null }
      ])
      // A tenant reads its own mutes only.
      const seenByA = yield* Tenant.withTenant(
        s.a,
        sql<{ n: string }>`select count(*) as n from redrive.dlq_group_mute where type = ${s.type}`
      )
      assert.strictEqual(seenByA[0]!.n, "1")
      const bad = yield* Effect.flip(groups.mute({ ...s.key1, duration: "0 millis", by: "alice" }))
      assert.deepInclude(bad, { _tag: "Redrive/InvalidInput", field: "duration" })
      const noActor = yield* Effect.flip(groups.unmute({ ...s.key1, by: "" }))
      assert.deepInclude(noActor, { _tag: "Redrive/InvalidInput", field: "by" })
    }))
})
