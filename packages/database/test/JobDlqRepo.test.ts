import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import { DlqFilter } from "../src/DlqFilter.js"
import { ErrorClass, JobId, JobType } from "../src/Ids.js"
import type { JobDlq } from "../src/JobDlq.js"
import { insecureCursorSecret, JobDlqRepo, layerInsecureDefault } from "../src/JobDlqRepo.js"
import { withTenant } from "../src/Tenant.js"
import { TestDatabase } from "../src/testing/index.js"
import { Factory as F } from "../src/testing/index.js"

const Test = layerInsecureDefault

/** Walks every page of `filter` and returns the ids in the order they came. */
const walk = (filter: DlqFilter, limit: number, between?: (page: number) => Effect.Effect<void, unknown, JobDlqRepo>) =>
  Effect.gen(function*() {
    const repo = yield* JobDlqRepo
    const seen: Array<JobDlq> = []
    let cursor: string | undefined
    for (let page = 0; page < 1000; page++) {
      const result = yield* repo.listPending(filter, cursor === undefined ? { limit } : { limit, cursor })
      seen.push(...result.items)
      if (result.nextCursor === null) return seen
      cursor = result.nextCursor
      if (between) yield* between(page)
    }
    throw new Error("pagination did not end")
  })

const isNewestFirst = (rows: ReadonlyArray<JobDlq>) =>
  rows.every((r, i) => {
    const prev = rows[i - 1]
    if (!prev) return true
    const dt = prev.dlqAt.getTime() - r.dlqAt.getTime()
    return dt > 0 || (dt === 0 && prev.id > r.id)
  })

layer(TestDatabase.layer, { excludeTestServices: true })("JobDlqRepo", (it) => {
  it.effect("a dead letter with a 3-entry history round-trips exactly", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const input = F.deadLetter({ tenantId: F.tenant(), payload: { to: "x@example.com", snake_case: [1, { a_b: null }] } })
      const inserted = yield* repo.insert(input)
      const read = Option.getOrThrow(yield* repo.get(inserted.id))
      assert.deepStrictEqual(read.errorHistory, F.history3)
      assert.deepStrictEqual(read.payload, input.payload)
      assert.deepStrictEqual(read, inserted)
      const { id: _id, ...rest } = read
      assert.deepStrictEqual({ ...rest }, { ...input })
      // Stored verbatim: camelCase keys inside jsonb were not renamed, dates are ISO strings.
      const sql = yield* SqlClient.SqlClient
      const raw = yield* sql<{ h: ReadonlyArray<Record<string, unknown>> }>`
        select error_history as h from redrive.job_dlq where id = ${read.id}`
      assert.strictEqual(raw[0]!.h[0]!["errorClass"], "external_api")
      assert.strictEqual(raw[0]!.h[0]!["at"], "2026-11-23T10:00:00.123Z")
    }).pipe(Effect.provide(Test)))

  it.effect("pages return every row exactly once, newest first", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const tenantId = F.tenant()
      const base = Date.UTC(2026, 10, 1)
      for (let i = 0; i < 95; i++) {
        yield* repo.insert(F.deadLetter({ tenantId, dlqAt: new Date(base + (i % 40) * 1000) }))
      }
      const rows = yield* walk({ tenantId }, 10)
      assert.strictEqual(rows.length, 95)
      assert.strictEqual(new Set(rows.map((r) => r.id)).size, 95)
      assert.isTrue(isNewestFirst(rows))
    }).pipe(Effect.provide(Test)))

  it.effect("30 rows sharing one dlq_at are each returned once", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const tenantId = F.tenant()
      const sql = yield* SqlClient.SqlClient
      // One statement, one now(): the case that loses rows with a microsecond cursor in a ms Date.
      yield* sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts,
                   error_class, attempts, fingerprint, first_failed_at)
                 select 5000000 + g, ${tenantId}, 'q', 't', '{}', 5, 3, 'unknown', 3, 'fp', now()
                 from generate_series(1, 30) g`
      const rows = yield* walk({ tenantId }, 7)
      assert.strictEqual(rows.length, 30)
      assert.strictEqual(new Set(rows.map((r) => r.id)).size, 30)
      assert.strictEqual(new Set(rows.map((r) => r.dlqAt.getTime())).size, 1)
      assert.isTrue(isNewestFirst(rows))
      void repo
    }).pipe(Effect.provide(Test)))

  it.effect("rows inserted between page fetches neither repeat nor displace earlier rows", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const tenantId = F.tenant()
      const start = Date.now() - 60_000
      const originals: Array<number> = []
      for (let i = 0; i < 25; i++) {
        originals.push((yield* repo.insert(F.deadLetter({ tenantId, dlqAt: new Date(start + i * 100) }))).id)
      }
      const rows = yield* walk({ tenantId }, 4, (page) =>
        // Newer dead letters keep arriving while an operator pages through older ones.
        Effect.asVoid(repo.insert(F.deadLetter({ tenantId, dlqAt: new Date(start + 100_000 + page) }))))
      assert.strictEqual(new Set(rows.map((r) => r.id)).size, rows.length)
      for (const id of originals) assert.strictEqual(rows.filter((r) => r.id === id).length, 1)
      assert.isTrue(isNewestFirst(rows))
    }).pipe(Effect.provide(Test)))

  it.effect("filters by tenant, queue, type, error class, fingerprint, time range and ids", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const tenantId = F.tenant()
      const t0 = Date.UTC(2026, 9, 1)
      const a = yield* repo.insert(F.deadLetter({ tenantId, queue: F.queue("q1"), dlqAt: new Date(t0) }))
      const b = yield* repo.insert(F.deadLetter({
        tenantId,
        queue: F.queue("q2"),
        type: JobType.make("sms.send"),
        errorClass: ErrorClass.make("rate_limit"),
        fingerprint: "fp-2",
        dlqAt: new Date(t0 + 1000)
      }))
      const c = yield* repo.insert(F.deadLetter({ tenantId, queue: F.queue("q1"), dlqAt: new Date(t0 + 2000) }))
      yield* repo.insert(F.deadLetter({ tenantId: F.tenant(), queue: F.queue("q1"), dlqAt: new Date(t0) }))
      const ids = (filter: DlqFilter) => Effect.map(walk(filter, 50), (rows) => rows.map((r) => r.id))
      assert.deepStrictEqual(yield* ids({ tenantId }), [c.id, b.id, a.id])
      assert.deepStrictEqual(yield* ids({ tenantId, queue: F.queue("q1") }), [c.id, a.id])
      assert.deepStrictEqual(yield* ids({ tenantId, type: JobType.make("sms.send") }), [b.id])
      assert.deepStrictEqual(yield* ids({ tenantId, errorClass: ErrorClass.make("rate_limit") }), [b.id])
      assert.deepStrictEqual(yield* ids({ tenantId, fingerprint: "fp-2" }), [b.id])
      assert.deepStrictEqual(yield* ids({ tenantId, dlqFrom: new Date(t0 + 1000), dlqTo: new Date(t0 + 2000) }), [b.id])
      assert.deepStrictEqual(yield* ids({ tenantId, ids: [a.id, c.id] }), [c.id, a.id])
    }).pipe(Effect.provide(Test)))

  it.effect("a tampered cursor, or one used with another filter, is a typed InvalidCursor", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const tenantId = F.tenant()
      for (let i = 0; i < 3; i++) yield* repo.insert(F.deadLetter({ tenantId }))
      const first = yield* repo.listPending({ tenantId }, { limit: 1 })
      const cursor = first.nextCursor!
      const [body, signature] = cursor.split(".") as [string, string]
      const decoded = JSON.parse(Buffer.from(body, "base64url").toString()) as { id: number }
      const forgedBody = Buffer.from(JSON.stringify({ ...decoded, id: decoded.id + 1 })).toString("base64url")
      for (const bad of [`${forgedBody}.${signature}`, "garbage", `${body}.`, `${body}.${signature}x`]) {
        const error = yield* Effect.flip(repo.listPending({ tenantId }, { limit: 1, cursor: bad }))
        assert.strictEqual(error._tag, "Redrive/InvalidCursor")
      }
      const otherFilter = yield* Effect.flip(repo.listPending({ tenantId, queue: F.queue("q") }, { limit: 1, cursor }))
      assert.strictEqual(otherFilter._tag, "Redrive/InvalidCursor")
      assert.include(otherFilter._tag === "Redrive/InvalidCursor" ? otherFilter.reason : "", "different filter")
      const ok = yield* repo.listPending({ tenantId }, { limit: 1, cursor })
      assert.strictEqual(ok.items.length, 1)
    }).pipe(Effect.provide(Test)))

  it.effect("a limit outside 1..500 is an InvalidLimit naming the field; a null cursor is the first page", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const tenantId = F.tenant()
      for (let i = 0; i < 2; i++) yield* repo.insert(F.deadLetter({ tenantId }))
      for (const limit of [0, -1, 501, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(repo.listPending({ tenantId }, { limit }))
        assert.deepInclude(error, { _tag: "Redrive/InvalidLimit", field: "limit" })
      }
      const first = yield* repo.listPending({ tenantId }, { limit: 1, cursor: null })
      assert.strictEqual(first.items.length, 1)
      // The previous page's nextCursor goes back as it came, null on the last page included.
      const second = yield* repo.listPending({ tenantId }, { limit: 1, cursor: first.nextCursor })
      const third = yield* repo.listPending({ tenantId }, { limit: 1, cursor: second.nextCursor })
      assert.deepStrictEqual([second.items.length, second.nextCursor, third.items.length], [1, null, 1])
    }).pipe(Effect.provide(Test)))

  it.effect("markReplayed stamps once; a second stamp names the job the first replay made", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const tenantId = F.tenant()
      const row = yield* repo.insert(F.deadLetter({ tenantId }))
      const stamped = yield* repo.markReplayed({ id: row.id, replayedBy: "ops@example.com", replayJobId: JobId.make(77) })
      assert.strictEqual(stamped.replayJobId, 77)
      assert.instanceOf(stamped.replayedAt, Date)
      const again = yield* Effect.flip(
        repo.markReplayed({ id: row.id, replayedBy: "someone-else", replayJobId: JobId.make(78) })
      )
      assert.deepStrictEqual(again._tag === "Redrive/DeadLetterAlreadyReplayed" ? again.replayJobId : null, 77)
      const missing = yield* Effect.flip(
        repo.markReplayed({ id: F.dlqId(987654), replayedBy: "x", replayJobId: JobId.make(1) })
      )
      assert.strictEqual(missing._tag, "Redrive/DeadLetterNotFound")
      // A replayed dead letter leaves the pending list.
      const page = yield* repo.listPending({ tenantId })
      assert.strictEqual(page.items.length, 0)
    }).pipe(Effect.provide(Test)))

  it.effect("reason text past the first rows of the order: found in order, as owner and under a tenant, % and _ literal", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = F.tenant()
      const queue = F.queue()
      // 1500 rows, one a millisecond back from now: the newest 1400 say something else, so the
      // search must go past the rows it reads first (1000) to find the older matches.
      yield* sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts,
                   error_class, error_reason, attempts, fingerprint, first_failed_at, dlq_at)
                 select 6000000 + g, ${tenantId}, ${queue}, 't', '{}', 5, 3, 'unknown',
                   case when g % 20 = 0 and g > 1400 then 'Disk 50%_FULL on node ' || g
                        when g % 20 = 10 and g > 1400 then 'disk 50xyfull on node ' || g
                        else 'connection reset' end,
                   3, 'fp', now(), now() - g * interval '1 millisecond'
                 from generate_series(1, 1500) g`
      const repo = yield* JobDlqRepo
      const search = (limit: number) =>
        Effect.gen(function*() {
          const found: Array<string> = []
          let cursor: string | null = null
          for (let page = 0; page < 10; page++) {
            const result: { items: ReadonlyArray<JobDlq>; nextCursor: string | null } = yield* repo.listPending(
              { queue },
              cursor === null ? { limit } : { limit, cursor },
              { reasonContains: "50%_full" }
            )
            found.push(...result.items.map((r) => r.errorReason))
            if (result.nextCursor === null) return found
            cursor = result.nextCursor
          }
          return found
        })
      const expected = [1420, 1440, 1460, 1480, 1500].map((g) => `Disk 50%_FULL on node ${g}`)
      assert.deepStrictEqual(yield* search(2), expected)
      assert.deepStrictEqual(yield* withTenant(tenantId, search(2)), expected)
      assert.deepStrictEqual(yield* withTenant(tenantId, search(50)), expected)
    }).pipe(Effect.provide(Test)))

  it.effect("a page cursor issued under one tenant is refused under another tenant", () =>
    Effect.gen(function*() {
      const repo = yield* JobDlqRepo
      const a = F.tenant()
      const b = F.tenant()
      const queue = F.queue()
      for (let i = 0; i < 3; i++) yield* repo.insert(F.deadLetter({ tenantId: a, queue }))
      for (let i = 0; i < 3; i++) yield* repo.insert(F.deadLetter({ tenantId: b, queue }))
      const filter = { queue }
      const first = yield* withTenant(a, repo.listPending(filter, { limit: 1 }))
      assert.isTrue(first.items.every((row) => row.tenantId === a))
      const cursor = first.nextCursor ?? ""
      assert.notStrictEqual(cursor, "")
      // Tenant a pages on with it.
      const second = yield* withTenant(a, repo.listPending(filter, { limit: 1, cursor }))
      assert.strictEqual(second.items[0]?.tenantId, a)
      // Tenant b (same filter, same secret) cannot: the cursor is a's.
      const refused = yield* Effect.flip(withTenant(b, repo.listPending(filter, { limit: 1, cursor })))
      assert.deepInclude(refused, { _tag: "Redrive/InvalidCursor", field: "cursor", reason: "cursor was issued for a different tenant" })
      // Nor can it be used outside a tenant scope.
      const outside = yield* Effect.flip(repo.listPending(filter, { limit: 1, cursor }))
      assert.deepInclude(outside, { _tag: "Redrive/InvalidCursor", reason: "cursor was issued for a different tenant" })
    }).pipe(Effect.provide(Test)))

  it.effect("the Default layer refuses to start without a real REDRIVE_CURSOR_SECRET; the insecure layer starts", () =>
    Effect.gen(function*() {
      const build = (env: ReadonlyArray<readonly [string, string]>) =>
        Effect.flatMap(JobDlqRepo, (repo) => repo.listPending({ queue: F.queue() })).pipe(
          Effect.provide(JobDlqRepo.Default),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env)))
        )
      for (const env of [[], [["REDRIVE_CURSOR_SECRET", insecureCursorSecret]], [["REDRIVE_CURSOR_SECRET", "short"]]] as const) {
        const error = yield* Effect.flip(build(env))
        assert.strictEqual(error._tag, "ConfigError")
        assert.include(String(error), "REDRIVE_CURSOR_SECRET")
      }
      const page = yield* build([["REDRIVE_CURSOR_SECRET", "a-secret-of-at-least-16-chars"]])
      assert.strictEqual(page.items.length, 0)
      const insecure = yield* Effect.flatMap(JobDlqRepo, (repo) => repo.listPending({ queue: F.queue() })).pipe(
        Effect.provide(layerInsecureDefault),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
      )
      assert.strictEqual(insecure.items.length, 0)
    }))
})
