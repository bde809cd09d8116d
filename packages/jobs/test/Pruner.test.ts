/**
 * Retention: a pass removes exactly the rows past their kind's retention — each kind is seeded on
 * both sides of its cutoff, with explicit timestamps — in batches of its size, never pending
 * deliveries nor dead letters an unfinished bulk replay may still replay, and nothing of a kind
 * kept for ever. The pruner works on the whole (per-file) database: each test leaves no row past
 * the default retentions behind, so the counts a pass returns are this test's rows.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Ids } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { ConfigProvider, Effect } from "effect"
import * as Pruner from "../src/Pruner.js"

const DAY = 86_400_000

/** Every kind off but those given. */
const only = (retention: Pruner.RetentionSettings): Pruner.RetentionSettings => ({
  ...Object.fromEntries(Pruner.retentionKinds.map((k) => [k, false])),
  ...retention
})

const countWhere = (table: string, where: string, params: ReadonlyArray<unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql.unsafe<{ n: string }>(`select count(*) as n from ${table} where ${where}`, params),
      (rows) => Number(rows[0]!.n)
    ))

/** Seeds one row of every kind on each side of its default cutoff, for `tenant`; returns labelled ids. */
const seedAll = (tenant: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const queue = Factory.queue()
    const job = (state: string, finishedDaysAgo: number | null) =>
      Effect.map(
        sql<{ id: string }>`
          insert into redrive.job (tenant_id, queue, type, state, completed_at, created_at)
          values (${tenant}, ${queue}, 'email.send', ${state},
                  case when ${finishedDaysAgo}::float8 is null then null else now() - ${finishedDaysAgo}::float8 * interval '1 day' end,
                  now() - interval '200 days')
          returning id`,
        (rows) => rows[0]!.id
      )
    yield* job("completed", 2) // past 1 day
    yield* job("completed", 0.5)
    yield* job("cancelled", 8) // past 7 days
    yield* job("cancelled", 6)
    yield* job("available", null) // unfinished: never pruned, however old
    const liveReplayJob = yield* job("available", null)

    const deadLetter = (dlqDaysAgo: number, replayedDaysAgo: number | null, replayJobId: string | null) =>
      Factory.insertDeadLetter({
        tenantId: Factory.tenant(tenant),
        queue: Factory.queue(queue),
        dlqAt: new Date(Date.now() - dlqDaysAgo * DAY),
        ...(replayedDaysAgo === null ? {} : {
          replayedAt: new Date(Date.now() - replayedDaysAgo * DAY),
          replayedBy: "op",
          // A job id no job has any more (it ran and was deleted), unless given.
          replayJobId: Ids.JobId.make(
            replayJobId === null ? 9_000_000_000_000 + Math.floor(Math.random() * 1e9) : Number(replayJobId)
          )
        })
      })
    yield* deadLetter(31, null, null) // unreplayed, past 30 days
    yield* deadLetter(29, null, null)
    yield* deadLetter(40, 8, null) // replayed, past 7 days
    yield* deadLetter(40, 6, null)
    const heldByLiveJob = yield* deadLetter(40, 8, liveReplayJob) // its replay job is still waiting

    const [channel] = yield* sql<{ id: string }>`
      insert into redrive.alert_channel (tenant_id, name, kind, url)
      values (${tenant}, ${Factory.unique("ch")}, 'webhook', 'https://hooks.example.test/x') returning id`
    const delivery = (state: string, daysAgo: number) =>
      sql`insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, state, created_at, delivered_at)
          values (${channel!.id}, ${tenant}, 'job.dead_lettered', '{}'::jsonb, ${state}, now() - ${daysAgo}::float8 * interval '1 day',
                  case when ${state} = 'delivered' then now() - ${daysAgo}::float8 * interval '1 day' end)`
    yield* delivery("delivered", 15) // past 14 days
    yield* delivery("failed", 15)
    yield* delivery("pending", 15) // never pruned
    yield* delivery("delivered", 13)

    const event = (daysAgo: number) =>
      sql`insert into redrive.control_event (tenant_id, queue, action, actor, at)
          values (${tenant}, ${queue}, 'pause', 'op', now() - ${daysAgo}::float8 * interval '1 day')`
    yield* event(91) // past 90 days
    yield* event(89)

    const request = (state: string, daysAgo: number) =>
      sql`insert into redrive.replay_request (tenant_id, filter, state, requested_by, created_at, finished_at)
          values (${tenant}, '{}'::jsonb, ${state}, 'op', now() - interval '100 days',
                  case when ${state} in ('done', 'cancelled', 'failed') then now() - ${daysAgo}::float8 * interval '1 day' end)`
    yield* request("done", 31) // past 30 days
    yield* request("failed", 31)
    yield* request("cancelled", 29)
    yield* request("pending", 0) // unfinished (covers no dead letter: max_dlq_id 0)

    const rerun = (daysAgo: number) =>
      sql`insert into redrive.job_rerun (tenant_id, request_key, source_job_id, job_id, requested_by, created_at)
          values (${tenant}, ${Factory.unique("key")}, 1, 2, 'op', now() - ${daysAgo}::float8 * interval '1 day')`
    yield* rerun(31) // past 30 days
    yield* rerun(29)

    const stat = (daysAgo: number) =>
      sql`insert into redrive.failure_stat (tenant_id, queue, type, error_class, bucket, failures)
          values (${tenant}, ${queue}, 'email.send', 'timeout',
                  date_trunc('minute', now() - ${daysAgo}::float8 * interval '1 day'), 1)`
    yield* stat(31) // past 30 days
    yield* stat(29)

    const completedStat = (daysAgo: number) =>
      sql`insert into redrive.throughput_stat (tenant_id, queue, bucket, completed)
          values (${tenant}, ${queue}, date_trunc('minute', now() - ${daysAgo}::float8 * interval '1 day'), 7)`
    yield* completedStat(31) // past 30 days
    yield* completedStat(29)
    return { heldByLiveJob }
  })

/** What is left of a tenant's seeded rows. */
const remaining = (tenant: string) =>
  Effect.all({
    completed: countWhere("redrive.job", "tenant_id = $1 and state = 'completed'", [tenant]),
    cancelled: countWhere("redrive.job", "tenant_id = $1 and state = 'cancelled'", [tenant]),
    available: countWhere("redrive.job", "tenant_id = $1 and state = 'available'", [tenant]),
    unreplayed: countWhere("redrive.job_dlq", "tenant_id = $1 and replayed_at is null", [tenant]),
    replayed: countWhere("redrive.job_dlq", "tenant_id = $1 and replayed_at is not null", [tenant]),
    deliveries: countWhere("redrive.alert_delivery", "tenant_id = $1 and state <> 'pending'", [tenant]),
    pending: countWhere("redrive.alert_delivery", "tenant_id = $1 and state = 'pending'", [tenant]),
    events: countWhere("redrive.control_event", "tenant_id = $1", [tenant]),
    requests: countWhere("redrive.replay_request", "tenant_id = $1", [tenant]),
    reruns: countWhere("redrive.job_rerun", "tenant_id = $1", [tenant]),
    stats: countWhere("redrive.failure_stat", "tenant_id = $1", [tenant]),
    throughput: countWhere("redrive.throughput_stat", "tenant_id = $1", [tenant])
  })

const seeded = {
  completed: 2,
  cancelled: 2,
  available: 2,
  unreplayed: 2,
  replayed: 3,
  deliveries: 3,
  pending: 1,
  events: 2,
  requests: 4,
  reruns: 2,
  stats: 2,
  throughput: 2
}

/** @effect/cluster's SqlMessageStorage tables, as its pg migration creates them. */
const createClusterTables = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all([
    sql`create table if not exists cluster_messages (
          id bigint primary key, rowid bigserial, message_id varchar(255), shard_id varchar(50) not null,
          entity_type varchar(150) not null, entity_id varchar(255) not null, kind int not null, tag varchar(50),
          payload text, headers text, trace_id varchar(32), span_id varchar(16), sampled boolean,
          processed boolean not null default false, request_id bigint not null, reply_id bigint,
          last_reply_id bigint, last_read timestamp, deliver_at bigint, unique (message_id))`,
    sql`create table if not exists cluster_replies (
          id bigint primary key, rowid bigserial, kind int, request_id bigint not null, payload text not null,
          sequence int, acked boolean not null default false, unique (request_id, kind), unique (request_id, sequence))`
  ]))

/** A Snowflake of @effect/cluster for a time `daysAgo` (epoch 2025-01-01, 22 bits of machine and sequence). */
const snowflake = (daysAgo: number, n: number) =>
  ((BigInt(Date.now() - Math.round(daysAgo * DAY) - Date.UTC(2025, 0, 1)) << 22n) | BigInt(n)).toString()

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("Pruner", (it) => {
  it.effect("one pass removes exactly the rows past each kind's default retention, and nothing else", () =>
    Effect.gen(function*() {
      const tenant = Factory.tenant()
      const { heldByLiveJob } = yield* seedAll(tenant)
      assert.deepStrictEqual(yield* remaining(tenant), seeded)

      const result = yield* Pruner.pruneOnce()
      assert.deepStrictEqual(yield* remaining(tenant), {
        completed: 1,
        cancelled: 1,
        available: 2,
        unreplayed: 1,
        // The one replayed 6 days ago, and the one whose replay job has not run yet.
        replayed: 2,
        deliveries: 1,
        pending: 1,
        events: 1,
        // The cancelled one finished 29 days ago, and the pending one.
        requests: 2,
        reruns: 1,
        stats: 1,
        throughput: 1
      })
      assert.strictEqual(yield* countWhere("redrive.job_dlq", "id = $1", [heldByLiveJob.id]), 1)
      // The counts of the pass are this test's rows (earlier tests left nothing past retention).
      assert.deepInclude(result, {
        completedJobs: { deleted: 1, batches: 1, more: false },
        cancelledJobs: { deleted: 1, batches: 1, more: false },
        deadLetters: { deleted: 1, batches: 1, more: false },
        replayedDeadLetters: { deleted: 1, batches: 1, more: false },
        alertDeliveries: { deleted: 2, batches: 1, more: false },
        controlEvents: { deleted: 1, batches: 1, more: false },
        replayRequests: { deleted: 2, batches: 1, more: false },
        jobReruns: { deleted: 1, batches: 1, more: false },
        failureStats: { deleted: 1, batches: 1, more: false },
        throughputStats: { deleted: 1, batches: 1, more: false }
      })
      // A second pass finds nothing more.
      const again = yield* Pruner.pruneOnce()
      for (const kind of Pruner.retentionKinds) assert.strictEqual(again[kind].deleted, 0, kind)
    }))

  it.effect("a dead letter a pending or running bulk replay may still replay survives until the request ends", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const covered = Factory.tenant()
      const other = Factory.tenant()
      const old = new Date(Date.now() - 40 * DAY)
      const a = yield* Factory.insertDeadLetter({ tenantId: covered, dlqAt: old })
      const b = yield* Factory.insertDeadLetter({ tenantId: covered, dlqAt: old })
      const elsewhere = yield* Factory.insertDeadLetter({ tenantId: other, dlqAt: old })
      // Newer than the request's snapshot: not part of it.
      const after = yield* Factory.insertDeadLetter({ tenantId: covered, dlqAt: old })
      const [request] = yield* sql<{ id: string }>`
        insert into redrive.replay_request (tenant_id, filter, max_dlq_id, state, requested_by)
        values (${covered}, '{"queue":"some-queue"}'::jsonb, ${b.id}, 'running', 'op') returning id`

      const first = yield* Pruner.pruneOnce({ retention: only({ deadLetters: "30 days" }) })
      assert.strictEqual(first.deadLetters.deleted, 2)
      const left = yield* sql<{ id: string }>`
        select id from redrive.job_dlq where id = any(${[a.id, b.id, elsewhere.id, after.id]}::bigint[]) order by id`
      assert.deepStrictEqual(left.map((r) => Number(r.id)), [a.id, b.id])

      yield* sql`update redrive.replay_request set state = 'done', finished_at = now() where id = ${request!.id}`
      const second = yield* Pruner.pruneOnce({ retention: only({ deadLetters: "30 days" }) })
      assert.strictEqual(second.deadLetters.deleted, 2)
      assert.strictEqual(yield* countWhere("redrive.job_dlq", "tenant_id = $1", [covered]), 0)
      // The finished request itself is kept for its own retention.
      yield* sql`delete from redrive.replay_request where id = ${request!.id}`
    }))

  it.effect("batches: N rows take ceil(N / batchSize) statements; a pass stops at maxBatches and the next goes on", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenant = Factory.tenant()
      const seedEvents = (n: number) =>
        sql`insert into redrive.control_event (tenant_id, queue, action, actor, at)
            select ${tenant}, 'q', 'pause', 'op', now() - interval '100 days' from generate_series(1, ${n}::int)`
      const events = countWhere("redrive.control_event", "tenant_id = $1", [tenant])

      yield* seedEvents(5)
      const all = yield* Pruner.pruneOnce({ batchSize: 2, retention: only({ controlEvents: "90 days" }) })
      assert.deepStrictEqual(all.controlEvents, { deleted: 5, batches: 3, more: false })
      assert.strictEqual(yield* events, 0)

      yield* seedEvents(4)
      const exact = yield* Pruner.pruneOnce({ batchSize: 2, retention: only({ controlEvents: "90 days" }) })
      // Two full batches, then an empty one that shows nothing is left.
      assert.deepStrictEqual(exact.controlEvents, { deleted: 4, batches: 3, more: false })

      yield* seedEvents(5)
      const budget = { batchSize: 2, maxBatches: 2, retention: only({ controlEvents: "90 days" }) }
      const first = yield* Pruner.pruneOnce(budget)
      assert.deepStrictEqual(first.controlEvents, { deleted: 4, batches: 2, more: true })
      assert.strictEqual(yield* events, 1)
      const second = yield* Pruner.pruneOnce(budget)
      assert.deepStrictEqual(second.controlEvents, { deleted: 1, batches: 1, more: false })
      assert.strictEqual(yield* events, 0)
    }))

  it.effect("false, 0 and REDRIVE_RETENTION_*=off keep a kind for ever; the environment sets the others", () =>
    Effect.gen(function*() {
      const tenant = Factory.tenant()
      yield* seedAll(tenant)
      const off = yield* Pruner.pruneOnce({
        retention: Object.fromEntries(Pruner.retentionKinds.map((k, i) => [k, i % 2 === 0 ? false : 0]))
      })
      for (const kind of Pruner.retentionKinds) assert.strictEqual(off[kind].deleted, 0, kind)
      assert.deepStrictEqual(yield* remaining(tenant), seeded)

      // From the environment: dead letters kept for ever, control events for 100 days (the seeded
      // ones are 89 and 91 days old), every other kind off through the options.
      const env = ConfigProvider.fromMap(
        new Map([
          ["REDRIVE_RETENTION_DEAD_LETTERS", "off"],
          ["REDRIVE_RETENTION_CONTROL_EVENTS", "100 days"],
          ["REDRIVE_RETENTION_FAILURE_STATS", "1 day"],
          ["REDRIVE_RETENTION_THROUGHPUT_STATS", "1 day"]
        ])
      )
      const fromEnv = yield* Pruner.pruneOnce({
        retention: { completedJobs: false, cancelledJobs: false, replayedDeadLetters: false, alertDeliveries: false, replayRequests: false, jobReruns: false, clusterMessages: false }
      }).pipe(Effect.withConfigProvider(env))
      assert.strictEqual(fromEnv.deadLetters.deleted, 0)
      assert.strictEqual(fromEnv.controlEvents.deleted, 0)
      // (Other tests' buckets younger than the default may go too: counted by tenant.)
      assert.deepStrictEqual(yield* remaining(tenant), { ...seeded, stats: 0, throughput: 0 })
      assert.strictEqual(Pruner.envName("replayedDeadLetters"), "REDRIVE_RETENTION_REPLAYED_DEAD_LETTERS")

      const invalid = yield* Effect.flip(
        Pruner.pruneOnce().pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDRIVE_RETENTION_JOB_RERUNS", "a month"]])))
        )
      )
      assert.include(String(invalid), "REDRIVE_RETENTION_JOB_RERUNS")

      // Leave nothing past the defaults for the other tests.
      yield* Pruner.pruneOnce()
      assert.deepStrictEqual(yield* remaining(tenant), {
        ...seeded,
        completed: 1, cancelled: 1, unreplayed: 1, replayed: 2, deliveries: 1, events: 1, requests: 2, reruns: 1, stats: 0,
        throughput: 0
      })
    }))

  it.effect("@effect/cluster's processed requests past retention go with their replies; unprocessed ones stay", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // Without the tables (no cluster was ever run here) the kind is skipped.
      const before = yield* Pruner.pruneOnce({ retention: only({ clusterMessages: "7 days" }) })
      assert.deepStrictEqual(before.clusterMessages, { deleted: 0, batches: 0, more: false })

      yield* createClusterTables
      const message = (id: string, kind: number, requestId: string, processed: boolean) =>
        sql`insert into cluster_messages (id, message_id, shard_id, entity_type, entity_id, kind, processed, request_id)
            values (${id}::bigint, ${Factory.unique("m")}, 'default:1', 'RedriveJob', 'job:1', ${kind}, ${processed}, ${requestId}::bigint)`
      const reply = (id: string, requestId: string) =>
        sql`insert into cluster_replies (id, kind, request_id, payload) values (${id}::bigint, 0, ${requestId}::bigint, '{}')`
      const oldDone = snowflake(8, 1)
      const oldOpen = snowflake(8, 2)
      const freshDone = snowflake(6, 3)
      yield* message(oldDone, 0, oldDone, true)
      yield* message(snowflake(8, 4), 1, oldDone, true) // its ack
      yield* reply(snowflake(8, 5), oldDone)
      yield* message(oldOpen, 0, oldOpen, false)
      yield* message(freshDone, 0, freshDone, true)
      yield* reply(snowflake(6, 6), freshDone)

      const result = yield* Pruner.pruneOnce({ retention: only({ clusterMessages: "7 days" }) })
      assert.deepStrictEqual(result.clusterMessages, { deleted: 1, batches: 1, more: false })
      const messages = yield* sql<{ id: string }>`select id from cluster_messages order by id`
      assert.deepStrictEqual(messages.map((m) => m.id), [oldOpen, freshDone])
      const replies = yield* sql<{ requestId: string }>`select request_id from cluster_replies`
      assert.deepStrictEqual(replies.map((r) => r.requestId), [freshDone])
    }))
})
