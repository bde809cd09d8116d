/**
 * The operator views of 0009_views.sql give exact figures on a seeded data set: every column of
 * every row the seed produces is asserted (ages within the test's own running time).
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Factory, TestDatabase } from "../src/testing/index.js"
import { ErrorClass, JobType } from "../src/Ids.js"

const minutes = (n: number) => new Date(Date.now() - n * 60_000)
const inMinutes = (n: number) => new Date(Date.now() + n * 60_000)
const ms = (d: Date) => new Date(Math.floor(d.getTime()))

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("operator views", (it) => {
  it.effect("queue_health: counts by state, the oldest due job's age, and dead letters of the last 24 h", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const [q1, q2] = [Factory.queue(), Factory.queue()]
      const oldest = minutes(10)
      const job = (overrides: Parameters<typeof Factory.insertJob>[0]) => Factory.insertJob({ tenantId, queue: q1, ...overrides })
      yield* job({ runAt: oldest })
      yield* job({ runAt: minutes(5) })
      yield* job({ runAt: minutes(1), attempt: 1 })
      yield* job({ runAt: inMinutes(30) }) // scheduled
      yield* job({ runAt: inMinutes(60) }) // scheduled
      yield* job({ runAt: inMinutes(5), attempt: 2 }) // retrying
      yield* job({ ...Factory.abandoned("w-1", 1), lockedUntil: inMinutes(1) }) // running
      yield* job({ ...Factory.abandoned("w-2", 1), lockedUntil: inMinutes(1) }) // running
      yield* job({ state: "paused", runAt: minutes(20) })
      yield* job({ state: "completed", completedAt: new Date() })
      yield* job({ state: "cancelled", completedAt: new Date() })
      yield* Factory.insertDeadLetter({ tenantId, queue: q1, dlqAt: minutes(30) })
      const purged = yield* Factory.insertDeadLetter({ tenantId, queue: q1, dlqAt: minutes(60 * 23) })
      yield* Factory.insertDeadLetter({ tenantId, queue: q1, dlqAt: minutes(60 * 25) }) // older than 24 h
      yield* Factory.insertDeadLetter({ tenantId, queue: q2, dlqAt: minutes(2) }) // a queue with dead letters only
      // What the settles of those dead letters counted (0027: the view reads the counters, not job_dlq).
      yield* Factory.insertFailureStat({ tenantId, queue: q1, at: minutes(30), deadLettered: 1, failures: 1 })
      yield* Factory.insertFailureStat({ tenantId, queue: q1, at: minutes(60 * 23), deadLettered: 1, failures: 1 })
      yield* Factory.insertFailureStat({ tenantId, queue: q1, at: minutes(60 * 25), deadLettered: 1, failures: 1 })
      yield* Factory.insertFailureStat({ tenantId, queue: q1, at: minutes(3), failures: 4 }) // retried failures only
      yield* Factory.insertFailureStat({ tenantId, queue: q2, at: minutes(2), deadLettered: 1, failures: 1 })
      // A purge deletes the row, not the fact that the job died today.
      yield* sql`delete from redrive.job_dlq where id = ${purged.id}`

      const started = Date.now()
      const rows = yield* sql<{
        queue: string
        available: string
        scheduled: string
        retrying: string
        running: string
        paused: string
        oldestAvailableAgeS: number | null
        deadLettered24h: string
      }>`select * from redrive.queue_health where tenant_id = ${tenantId} order by queue`
      const sortedQueues = [q1, q2].sort()
      assert.deepStrictEqual(rows.map((r) => r.queue), sortedQueues)
      const byQueue = new Map(rows.map((r) => [r.queue, r]))
      const r1 = byQueue.get(q1)!
      assert.deepStrictEqual(
        [r1.available, r1.scheduled, r1.retrying, r1.running, r1.paused, r1.deadLettered24h].map(Number),
        [3, 2, 1, 2, 1, 2]
      )
      const expectedAge = (started - oldest.getTime()) / 1000
      assert.isTrue(
        r1.oldestAvailableAgeS! >= expectedAge - 0.01 && r1.oldestAvailableAgeS! <= expectedAge + (Date.now() - started) / 1000 + 1,
        `oldest_available_age_s ${r1.oldestAvailableAgeS} ≈ ${expectedAge}`
      )
      const r2 = byQueue.get(q2)!
      assert.deepStrictEqual(
        [r2.available, r2.scheduled, r2.retrying, r2.running, r2.paused, r2.deadLettered24h].map(Number),
        [0, 0, 0, 0, 0, 1]
      )
      assert.isNull(r2.oldestAvailableAgeS)
    }))

  it.effect("dlq_inspector: unreplayed dead letters, newest first, with their last error", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const older = yield* Factory.insertDeadLetter({ tenantId, queue, dlqAt: minutes(10), fingerprint: "fp-a" })
      const newer = yield* Factory.insertDeadLetter({
        tenantId,
        queue,
        dlqAt: minutes(1),
        type: JobType.make("sms.send"),
        errorClass: ErrorClass.make("external_api"),
        errorReason: "502",
        fingerprint: "fp-b",
        attempts: 5
      })
      const replayed = yield* Factory.insertDeadLetter({ tenantId, queue, dlqAt: minutes(5) })
      yield* sql`update redrive.job_dlq set replayed_at = now(), replayed_by = 'alice', replay_job_id = 1 where id = ${replayed.id}`
      const rows = yield* sql<{
        id: string
        type: string
        errorClass: string
        errorReason: string
        attempts: number
        fingerprint: string
        dlqAt: Date
        lastError: { readonly kind: string; readonly message: string }
      }>`select * from redrive.dlq_inspector where tenant_id = ${tenantId}`
      assert.deepStrictEqual(
        rows.map((r) => [Number(r.id), r.type, r.errorClass, r.errorReason, r.attempts, r.fingerprint, r.dlqAt.getTime()]),
        [
          [Number(newer.id), "sms.send", "external_api", "502", 5, "fp-b", ms(newer.dlqAt).getTime()],
          [Number(older.id), "email.send", "validation", "Expected string", 3, "fp-a", ms(older.dlqAt).getTime()]
        ]
      )
      // history3's newest entry.
      const last = Factory.history3[Factory.history3.length - 1]!
      for (const r of rows) assert.deepInclude(r.lastError, { kind: last.kind, message: "message" in last ? last.message : "" })
    }))

  it.effect("failure_stats: the last hour and the last 24 h, and the retry success rate", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const stat = (bucket: Date, errorClass: string, failures: number, dead: number, recovered: number) =>
        sql`insert into redrive.failure_stat (tenant_id, queue, type, error_class, bucket, failures, dead_lettered, recovered)
            values (${tenantId}, ${queue}, 'email.send', ${errorClass}, date_trunc('minute', ${bucket}::timestamptz),
                    ${failures}, ${dead}, ${recovered})`
      yield* stat(minutes(10), "external_api", 5, 1, 2)
      yield* stat(minutes(30), "external_api", 1, 0, 0)
      yield* stat(minutes(180), "external_api", 4, 3, 1)
      yield* stat(minutes(60 * 25), "external_api", 100, 100, 100) // outside the day
      yield* stat(minutes(120), "validation", 2, 2, 0)
      const rows = yield* sql<Record<string, string | null>>`
        select error_class, failures_1h, dead_lettered_1h, recovered_1h, failures_24h, dead_lettered_24h,
               recovered_24h, retry_success_rate_24h
        from redrive.failure_stats where tenant_id = ${tenantId} and queue = ${queue} order by error_class`
      assert.deepStrictEqual(rows.map((r) => Object.values(r).map((v) => v === null ? null : String(v))), [
        ["external_api", "6", "1", "2", "10", "4", "3", "0.4286"],
        ["validation", "0", "0", "0", "2", "2", "0", "0.0000"]
      ])
    }))

  it.effect("alert_backlog: pending, oldest pending, most attempts, failures of the day, last delivery", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const [channel] = yield* sql<{ id: string }>`
        insert into redrive.alert_channel (tenant_id, name, kind, url)
        values (${tenantId}, 'ops', 'webhook', 'https://example.com/hook') returning id`
      const [idle] = yield* sql<{ id: string }>`
        insert into redrive.alert_channel (tenant_id, name, kind, url, enabled)
        values (${tenantId}, 'quiet', 'slack', 'https://example.com/slack', false) returning id`
      const oldestPending = ms(minutes(5))
      const lastDelivered = ms(minutes(3))
      const delivery = (state: string, createdAt: Date, attempts: number, deliveredAt: Date | null) =>
        sql`insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, state, attempts, created_at, delivered_at)
            values (${channel!.id}, ${tenantId}, 'job.dead_lettered', '{}'::jsonb, ${state}, ${attempts}, ${createdAt},
                    ${deliveredAt})`
      yield* delivery("pending", oldestPending, 1, null)
      yield* delivery("pending", minutes(1), 3, null)
      yield* delivery("failed", minutes(60), 5, null)
      yield* delivery("failed", minutes(60 * 30), 5, null) // failed over a day ago
      yield* delivery("delivered", minutes(4), 1, lastDelivered)
      yield* delivery("delivered", minutes(9), 1, ms(minutes(8)))
      const rows = yield* sql<{
        channelId: string
        name: string
        kind: string
        enabled: boolean
        pending: string
        oldestPendingAt: Date | null
        maxPendingAttempts: number | null
        failed24h: string
        lastDeliveredAt: Date | null
      }>`select * from redrive.alert_backlog where tenant_id = ${tenantId} order by channel_id`
      assert.deepStrictEqual(
        rows.map((r) => [
          r.channelId,
          r.name,
          r.kind,
          r.enabled,
          Number(r.pending),
          r.oldestPendingAt?.getTime() ?? null,
          r.maxPendingAttempts,
          Number(r.failed24h),
          r.lastDeliveredAt?.getTime() ?? null
        ]),
        [
          [channel!.id, "ops", "webhook", true, 2, oldestPending.getTime(), 3, 1, lastDelivered.getTime()],
          [idle!.id, "quiet", "slack", false, 0, null, null, 0, null]
        ]
      )
    }))
})
