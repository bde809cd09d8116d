/**
 * The alert events and the channels' rules: job.failing (once per episode, from failure_stat),
 * dlq.threshold (once per crossing), replay.finished (once per request), job.recovered (opt-in,
 * written by the settle statement), error classes and tenants.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Schema } from "effect"
import * as Evaluator from "../../src/alerts/Evaluator.js"
import * as Enqueue from "../../src/Enqueue.js"
import * as ErrorGroups from "../../src/ErrorGroups.js"
import * as JobDefinition from "../../src/JobDefinition.js"
import { count, eventually, withWorker } from "../workerFixtures.js"
import { channel } from "./alertFixtures.js"

const url = "https://hooks.example.com/redrive"

const deliveries = (channelId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ event: string; payload: Record<string, unknown> }>`
      select event, payload from redrive.alert_delivery where channel_id = ${channelId} order by id`)

const failures = (f: { tenantId: string; queue: string; type: string; errorClass: string; failures: number; recovered?: number }) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.failure_stat (tenant_id, queue, type, error_class, bucket, failures, recovered)
        values (${f.tenantId}, ${f.queue}, ${f.type}, ${f.errorClass}, date_trunc('minute', now()), ${f.failures}, ${f.recovered ?? 0})
        on conflict (tenant_id, queue, type, error_class, bucket) do update
          set failures = excluded.failures, recovered = excluded.recovered`)

const deadLetters = (tenantId: string, queue: string, n: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
          error_reason, attempts, error_history, fingerprint, first_failed_at)
        select 2000000000 + g + (random() * 1e8)::bigint, ${tenantId}, ${queue}, 't', '{}', 5, 1, 'permanent', 'x', 1,
               '[]', 'fp', now()
        from generate_series(1, ${n}) g`)

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("alert events", (it) => {
  it.scoped("job.failing fires once per episode, for the channel's tenant and error classes only", () =>
    Effect.gen(function*() {
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const type = Factory.unique("type")
      const all = yield* channel({ tenantId, url, events: ["job.failing"], failingAfter: 5 })
      const permanentOnly = yield* channel({ tenantId, url, events: ["job.failing"], errorClasses: ["permanent"] })
      const otherTenant = yield* channel({ tenantId: Factory.tenant(), url, events: ["job.failing"] })
      const fires = (channelId: number) =>
        Effect.map(deliveries(channelId), (ds) => ds.filter((d) => d.event === "job.failing" && d.payload["type"] === type).length)

      yield* failures({ tenantId, queue, type, errorClass: "transient", failures: 4 })
      yield* Evaluator.runOnce
      assert.strictEqual(yield* fires(all), 0, "fired below the threshold")
      yield* failures({ tenantId, queue, type, errorClass: "transient", failures: 6 })
      yield* Evaluator.runOnce
      yield* Evaluator.runOnce
      assert.strictEqual(yield* fires(all), 1, "once per episode")
      const [alert] = (yield* deliveries(all)).filter((d) => d.event === "job.failing")
      assert.deepInclude(alert!.payload, { tenantId, queue, type, failures: 6, threshold: 5 })
      assert.strictEqual(yield* fires(permanentOnly), 0, "a class the channel does not want")
      assert.strictEqual(yield* fires(otherTenant), 0, "another tenant's channel")
      // A job of the type recovers: the episode ends; failing again is a new episode.
      yield* failures({ tenantId, queue, type, errorClass: "transient", failures: 6, recovered: 1 })
      const ended = yield* Evaluator.runOnce
      assert.isAtLeast(ended.episodesEnded, 1)
      assert.strictEqual(yield* fires(all), 1)
      yield* failures({ tenantId, queue, type, errorClass: "transient", failures: 9, recovered: 0 })
      yield* Evaluator.runOnce
      assert.strictEqual(yield* fires(all), 2)
    }))

  it.scoped("dlq.threshold fires once when a queue's unreplayed dead letters cross it, and again after it falls back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const watching = yield* channel({ tenantId, url, events: ["dlq.threshold"], dlqThreshold: 3 })
      const noThreshold = yield* channel({ tenantId, url, events: ["dlq.threshold"] })
      const fires = Effect.map(deliveries(watching), (ds) => ds.filter((d) => d.event === "dlq.threshold"))
      yield* deadLetters(tenantId, queue, 3)
      yield* Evaluator.runOnce
      assert.strictEqual((yield* fires).length, 0, "at the threshold is not above it")
      yield* deadLetters(tenantId, queue, 2)
      yield* Evaluator.runOnce
      yield* deadLetters(tenantId, queue, 10)
      yield* Evaluator.runOnce
      const fired = yield* fires
      assert.strictEqual(fired.length, 1, "once per crossing")
      assert.deepInclude(fired[0]!.payload, { tenantId, queue, depth: 5, threshold: 3 })
      assert.strictEqual((yield* deliveries(noThreshold)).length, 0)
      // Replayed (or pruned) down to the threshold: the episode ends; crossing again fires again.
      yield* sql`update redrive.job_dlq set replayed_at = now(), replay_job_id = job_id where tenant_id = ${tenantId}`
      yield* Evaluator.runOnce
      yield* deadLetters(tenantId, queue, 4)
      yield* Evaluator.runOnce
      assert.strictEqual((yield* fires).length, 2)
    }))

  it.scoped("replay.finished is written once per finished bulk replay, for channels that existed when it ended", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const [old] = yield* sql<{ id: string }>`
        insert into redrive.replay_request (tenant_id, filter, requested_by, state, matched, replayed, started_at, finished_at)
        values (${tenantId}, '{}', 'ops', 'done', 3, 3, now() - interval '10 minutes', now() - interval '5 minutes') returning id`
      const ch = yield* channel({ tenantId, url, events: ["replay.finished"] })
      const [request] = yield* sql<{ id: string }>`
        insert into redrive.replay_request (tenant_id, filter, requested_by, state, matched, replayed, started_at, finished_at)
        values (${tenantId}, '{}', 'ops', 'done', 12, 11, now(), now()) returning id`
      yield* sql`insert into redrive.replay_request (tenant_id, filter, requested_by, state) values (${tenantId}, '{}', 'ops', 'running')`
      yield* Evaluator.runOnce
      yield* Evaluator.runOnce
      const ds = yield* deliveries(ch)
      assert.deepStrictEqual(ds.map((d) => d.payload["requestId"]), [request!.id])
      assert.deepInclude(ds[0]!.payload, { state: "done", matched: 12, replayed: 11, requestedBy: "ops" })
      assert.notStrictEqual(old!.id, request!.id)
    }))

  it.scoped("job.recovered goes only to channels that name it; error classes filter dead letters", () =>
    Effect.gen(function*() {
      const tenantId = Factory.tenant()
      const optedIn = yield* channel({ tenantId, url, events: ["job.recovered"] })
      const everything = yield* channel({ tenantId, url })
      const permanentOnly = yield* channel({ tenantId, url, events: ["job.dead_lettered"], errorClasses: ["permanent"] })
      const Payload = Schema.Struct({ fail: Schema.Boolean })
      const Def = JobDefinition.make({
        name: Factory.unique("flaky"),
        queue: Factory.queue(),
        payload: Payload,
        retry: { maxAttempts: 2, base: 0 }
      })
      const [flaky, dying] = yield* Enqueue.many(Def, [{ fail: false }, { fail: true }], { tenantId })
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, (p, ctx) => (p.fail || ctx.attempt === 1 ? Effect.fail(new Error("flaky")) : Effect.void))],
          maintenance: false
        },
        eventually(count(`redrive.job where tenant_id = '${tenantId}'`), (n) => n === 0)
      )
      const recovered = (yield* deliveries(optedIn))
      assert.deepStrictEqual(recovered.map((d) => d.event), ["job.recovered"])
      assert.deepInclude(recovered[0]!.payload, { jobId: flaky!.id, tenantId, queue: Def.queue, type: Def.name, attempts: 2, errorClass: "unknown" })
      // An empty event list means every event but the opt-in success ones.
      const seen = (yield* deliveries(everything)).map((d) => d.event)
      assert.include(seen, "job.dead_lettered")
      assert.notInclude(seen, "job.recovered")
      assert.strictEqual(
        (yield* deliveries(everything)).find((d) => d.event === "job.dead_lettered")?.payload["jobId"],
        dying!.id
      )
      // The dead letter's class is `unknown`: not for a channel of permanent failures only.
      assert.strictEqual((yield* deliveries(permanentOnly)).length, 0)
    }))

  it.scoped("a muted error group writes no dead-letter alerts while the mute is in force", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const forA = yield* channel({ tenantId: a, url, events: ["job.dead_lettered"] })
      const forB = yield* channel({ tenantId: b, url, events: ["job.dead_lettered"] })
      const Def = JobDefinition.make({
        name: Factory.unique("muted"),
        queue: Factory.queue(),
        payload: Schema.Struct({ n: Schema.Number }),
        retry: { maxAttempts: 1, base: 0 }
      })
      const handlers = [JobDefinition.handle(Def, () => Effect.fail(new Error("vendor is down")))]
      const drain = (tenantId: string) =>
        withWorker({ handlers, maintenance: false }, eventually(count(`redrive.job where tenant_id = '${tenantId}'`), (n) => n === 0))
      const deadLetterAlerts = (channelId: number) =>
        Effect.map(deliveries(channelId), (ds) => ds.filter((d) => d.event === "job.dead_lettered").length)

      yield* Enqueue.one(Def, { n: 1 }, { tenantId: a })
      yield* drain(a)
      assert.strictEqual(yield* deadLetterAlerts(forA), 1, "before the mute")
      const sql = yield* SqlClient.SqlClient
      const [group] = yield* sql<{ errorClass: string; fingerprint: string }>`
        select error_class, fingerprint from redrive.job_dlq where tenant_id = ${a}`
      const groups = yield* ErrorGroups.ErrorGroups
      const key = { type: Def.name, errorClass: group!.errorClass, fingerprint: group!.fingerprint }
      yield* groups.mute({ ...key, tenantId: a, duration: "1 hour", by: "ops", reason: "vendor outage" })

      yield* Enqueue.many(Def, [{ n: 2 }, { n: 3 }], { tenantId: a })
      yield* Enqueue.one(Def, { n: 4 }, { tenantId: b })
      yield* drain(a)
      yield* drain(b)
      assert.strictEqual(yield* count(`redrive.job_dlq where tenant_id = '${a}'`), 3, "muting silences, it does not drop")
      assert.strictEqual(yield* deadLetterAlerts(forA), 1, "a's muted group: no new alerts")
      assert.strictEqual(yield* deadLetterAlerts(forB), 1, "b's group is not muted")

      yield* groups.unmute({ ...key, tenantId: a, by: "ops", reason: "vendor back" })
      yield* Enqueue.one(Def, { n: 5 }, { tenantId: a })
      yield* drain(a)
      assert.strictEqual(yield* deadLetterAlerts(forA), 2, "after the unmute")
    }).pipe(Effect.provide(ErrorGroups.layer)))
})
