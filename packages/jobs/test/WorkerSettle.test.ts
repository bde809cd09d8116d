import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory, Ids } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, Logger, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import * as JobRegistry from "../src/JobRegistry.js"
import * as Limits from "../src/Limits.js"
import * as Verdict from "../src/Verdict.js"
import { Replay } from "../src/Replay.js"
import * as ReplayModule from "../src/Replay.js"
import { count, eventually, withWorker } from "./workerFixtures.js"

// Replaying a dead letter without an edit needs no definition.
const TestLayer = ReplayModule.layer().pipe(
  Layer.provideMerge(JobRegistry.layer([])),
  Layer.provideMerge(TestDatabase.layer)
)

const Payload = Schema.Struct({ to: Schema.String })
const decodeHistory = Schema.decodeUnknownSync(ErrorHistory.ErrorHistory)

/** A job type of its own (name and queue unique to the test). */
const definition = (options: Partial<Pick<JobDefinition.DefinitionOptions<typeof Payload.Type, typeof Payload.Encoded>, "retry" | "priority">> = {}) =>
  JobDefinition.make({ name: Factory.unique("settle"), queue: Factory.queue(), payload: Payload, ...options })

const payload = { to: "a@example.com" }

const jobRow = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ state: string; attempt: number; completedAt: Date | null; lockedBy: string | null; lockedUntil: Date | null }>`
        select state, attempt, completed_at, locked_by, locked_until from redrive.job where id = ${id}`,
      (rows) => rows[0]
    ))

/** Waits until the job has left `running` (settled: kept or deleted) and returns its row, if any. */
const settled = (id: number) => eventually(jobRow(id), (row) => row === undefined || row.state === "completed")

/** The job's failure_stat counters summed over minutes, per error class. */
const stats = (tenantId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ errorClass: string; failures: number; deadLettered: number; recovered: number }>`
      select error_class, sum(failures)::int as failures, sum(dead_lettered)::int as dead_lettered,
             sum(recovered)::int as recovered
      from redrive.failure_stat where tenant_id = ${tenantId}
      group by error_class order by error_class`)

/** An alert channel; a global one (tenant null) is removed with the test's scope, as it sees every tenant. */
const channel = (c: {
  readonly tenantId: string | null
  readonly events?: ReadonlyArray<string>
  readonly minPriority?: number
  readonly enabled?: boolean
}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: string }>`
      insert into redrive.alert_channel (tenant_id, name, kind, url, events, min_priority, enabled)
      values (${c.tenantId}, ${Factory.unique("channel")}, 'webhook', 'https://hooks.example.com/redrive',
              ${c.events ?? []}::text[], ${c.minPriority ?? 10}, ${c.enabled ?? true})
      returning id`
    const id = Number(row!.id)
    if (c.tenantId === null) yield* Effect.addFinalizer(() => Effect.ignore(sql`delete from redrive.alert_channel where id = ${id}`))
    return id
  })

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("worker settle", (it) => {
  it.effect("with keepCompleted, a job that succeeds at once is kept as completed with its lease cleared", () =>
    Effect.gen(function*() {
      const Def = definition()
      const { id } = yield* Enqueue.one(Def, payload, { tenantId: Factory.tenant() })
      const row = yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.void)], keepCompleted: true },
        settled(id)
      )
      assert.isDefined(row, "the completed job was deleted")
      assert.deepInclude(row, { state: "completed", attempt: 1, lockedBy: null, lockedUntil: null })
      assert.instanceOf(row?.completedAt, Date)
    }))

  it.effect("with keepCompleted, a job that succeeds after a retry is kept as completed with its lease cleared", () =>
    Effect.gen(function*() {
      const Def = definition({ retry: { maxAttempts: 3, base: 0 } })
      const { id } = yield* Enqueue.one(Def, payload, { tenantId: Factory.tenant() })
      const handler = JobDefinition.handle(Def, (_, ctx) => ctx.attempt === 1 ? Effect.fail(new Error("flaky")) : Effect.void)
      const row = yield* withWorker({ handlers: [handler], keepCompleted: true }, settled(id))
      assert.isDefined(row, "the completed job was deleted")
      assert.deepInclude(row, { state: "completed", attempt: 2, lockedBy: null, lockedUntil: null })
      assert.instanceOf(row?.completedAt, Date)
    }))

  it.scoped("a dead letter writes a job.dead_lettered alert for every enabled channel that wants it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const Def = definition({ priority: 5, retry: { maxAttempts: 1 } })
      const wanted = [
        yield* channel({ tenantId }),
        yield* channel({ tenantId: null, events: ["job.dead_lettered"], minPriority: 5 })
      ]
      // Disabled; another tenant's; other events only; only more urgent jobs than priority 5.
      yield* channel({ tenantId, enabled: false })
      yield* channel({ tenantId: Factory.tenant() })
      yield* channel({ tenantId, events: ["replay.finished"] })
      yield* channel({ tenantId, minPriority: 4 })

      const { id } = yield* Enqueue.one(Def, payload, { tenantId })
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.fail(new Error("mailbox 42 is full")))] },
        eventually(count(`redrive.job_dlq where job_id = ${id}`), (n) => n === 1)
      )
      const [dlq] = yield* sql<{ id: string; fingerprint: string }>`
        select id, fingerprint from redrive.job_dlq where job_id = ${id}`
      const deliveries = yield* sql<{
        channelId: string
        tenantId: string | null
        event: string
        payload: unknown
        coalesceKey: string
        state: string
      }>`
        select channel_id, tenant_id, event, payload, coalesce_key, state from redrive.alert_delivery
        where (payload ->> 'jobId')::bigint = ${id}
        order by channel_id`
      assert.deepStrictEqual(deliveries.map((d) => Number(d.channelId)), wanted)
      for (const delivery of deliveries) {
        assert.deepStrictEqual({ ...delivery, channelId: 0 }, {
          channelId: 0,
          tenantId,
          event: "job.dead_lettered",
          payload: {
            dlqId: Number(dlq!.id),
            jobId: id,
            tenantId,
            queue: Def.queue,
            type: Def.name,
            errorClass: "unknown",
            reason: "mailbox 42 is full",
            fingerprint: dlq!.fingerprint,
            attempts: 1
          },
          coalesceKey: `job.dead_lettered:${tenantId}:${Def.queue}`,
          state: "pending"
        })
      }
    }))

  it.effect("a success after failures counts as recovered, and so does a replayed dead letter; a first-try success counts nothing", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const Def = definition({ retry: { maxAttempts: 3, base: 0 } })
      const retried = Factory.tenant()
      const replayed = Factory.tenant()
      const firstTry = Factory.tenant()
      yield* Enqueue.one(Def, payload, { tenantId: retried })
      yield* Enqueue.one(Def, payload, { tenantId: firstTry })
      // A dead letter of this type whose last failure was a validation error.
      const dead = yield* Factory.insertDeadLetter({
        tenantId: Ids.TenantId.make(replayed),
        queue: Ids.QueueName.make(Def.queue),
        type: Def.name,
        payload,
        errorClass: Ids.ErrorClass.make("validation")
      })
      yield* replay.replayOne({ id: dead.id, by: "ops" })

      // All three are waiting when the worker starts, so one claim takes them and the first-try
      // success goes through the settle statement with the others (not the plain delete).
      const handler = JobDefinition.handle(Def, (_, ctx) =>
        ctx.tenantId === retried && ctx.attempt === 1 ? Effect.fail(new Error("flaky")) : Effect.void)
      yield* withWorker(
        { handlers: [handler] },
        eventually(count(`redrive.job where queue = '${Def.queue}'`), (n) => n === 0)
      )

      assert.deepStrictEqual(yield* stats(retried), [
        { errorClass: "unknown", failures: 1, deadLettered: 0, recovered: 1 }
      ])
      // Counted under the class of the failure it recovered from: the dead letter's.
      assert.deepStrictEqual(yield* stats(replayed), [
        { errorClass: "validation", failures: 0, deadLettered: 0, recovered: 1 }
      ])
      assert.deepStrictEqual(yield* stats(firstTry), [])
    }))

  it.effect("a dead letter stores its error's fingerprint and the time of its first failure", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = JobDefinition.make({
        name: Factory.unique("fingerprinted"),
        queue: Factory.queue(),
        payload: Schema.Struct({ message: Schema.String }),
        retry: { maxAttempts: 2, base: "300 millis", jitter: "none" }
      })
      const messages = ["upstream 503 for order 17", "upstream 503 for order 42", "upstream 503 for invoice 17"]
      const ids = Enqueue.ids(yield* Enqueue.many(Def, messages.map((message) => ({ message })), { tenantId: Factory.tenant() }))
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, (p) => Effect.fail(new Error(p.message)))] },
        eventually(count(`redrive.job_dlq where queue = '${Def.queue}'`), (n) => n === 3)
      )
      const rows = yield* sql<{ jobId: string; fingerprint: string; firstFailedAt: Date; dlqAt: Date; errorHistory: unknown }>`
        select job_id, fingerprint, first_failed_at, dlq_at, error_history from redrive.job_dlq
        where job_id = any(${ids}::bigint[]) order by job_id`
      assert.deepStrictEqual(rows.map((r) => Number(r.jobId)), [...ids])

      const [order17, order42, invoice17] = rows.map((r) => r.fingerprint)
      assert.match(order17!, /^[0-9a-f]{16}$/)
      assert.strictEqual(order42, order17, "the same error with another number is the same problem")
      assert.notStrictEqual(invoice17, order17, "another error is another problem")

      for (const row of rows) {
        const [first] = decodeHistory(row.errorHistory)
        assert.deepInclude(first, { attempt: 1 })
        assert.strictEqual(row.firstFailedAt.toISOString(), first?.at.toISOString())
        // The second attempt ran at least its 300 ms backoff later.
        const span = row.dlqAt.getTime() - row.firstFailedAt.getTime()
        assert.isAtLeast(span, 250, `first failure only ${span} ms before the dead letter`)
      }
    }))
  it.effect("a failure with a 1 MB message and a 1 MB stack is dead-lettered, both cut to their byte caps", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = definition({ retry: { maxAttempts: 1 } })
      const message = "é".repeat(500_000)
      const stack = `Error: ${message}\n    at handler (job.ts:1:1)`
      const { id } = yield* Enqueue.one(Def, payload, { tenantId: Factory.tenant() })
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.fail(Object.assign(new Error(message), { stack })))] },
        eventually(count(`redrive.job_dlq where job_id = ${id}`), (n) => n === 1)
      )
      const [row] = yield* sql<{ errorHistory: unknown; errorReason: string }>`
        select error_history, error_reason from redrive.job_dlq where job_id = ${id}`
      const entry = decodeHistory(row!.errorHistory).at(-1)
      if (entry?.kind === "dropped" || entry === undefined) return assert.fail("no attempt entry")
      const { messageBytes, stackBytes } = Limits.defaults
      const markerBytes = Buffer.byteLength(Limits.truncatedMarker)
      // Whole characters up to the cap less the marker: "é" is 2 bytes, so an odd budget drops one byte.
      assert.strictEqual(entry.message, `${"é".repeat(Math.floor((messageBytes - markerBytes) / 2))}${Limits.truncatedMarker}`)
      assert.isAtMost(Buffer.byteLength(entry.message), messageBytes)
      const stackBudget = stackBytes - markerBytes - Buffer.byteLength("Error: ")
      assert.strictEqual(entry.stack, `Error: ${"é".repeat(Math.floor(stackBudget / 2))}${Limits.truncatedMarker}`)
      assert.isAtMost(Buffer.byteLength(entry.stack ?? ""), stackBytes)
      assert.isAtMost(Buffer.byteLength(row!.errorReason), messageBytes)
      assert.isTrue(row!.errorReason.startsWith("é"))
    }))

  it.effect("a dead letter another tenant wrote under a job's id does not swallow that job", () =>
    Effect.gen(function*() {
      const Def = definition({ retry: { maxAttempts: 1 } })
      const owner = Factory.tenant()
      const attacker = Factory.tenant()
      const [jobId] = Enqueue.ids(yield* Enqueue.many(Def, [payload], { tenantId: owner }))
      // The attack, simulated as the owner: a dead letter of the attacker's, under the victim's job id.
      yield* Factory.insertDeadLetter({ tenantId: attacker, jobId: jobId! })
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.fail(new Error("last attempt fails")))] },
        eventually(count(`redrive.job_dlq where job_id = ${jobId} and tenant_id = '${owner}'`), (n) => n === 1)
      )
      assert.strictEqual(yield* count(`redrive.job where id = ${jobId}`), 0)
      assert.strictEqual(yield* count(`redrive.job_dlq where job_id = ${jobId} and tenant_id = '${attacker}'`), 1)
    }))

  it.effect("a job whose dead letter cannot be written stays in job as dead_letter_conflict, and an error is logged", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = definition({ retry: { maxAttempts: 1 } })
      const tenantId = Factory.tenant()
      const [jobId] = Enqueue.ids(yield* Enqueue.many(Def, [payload], { tenantId }))
      // A dead letter under the job's own (tenant, id) already: the move cannot write its row.
      const existing = yield* Factory.insertDeadLetter({ tenantId, jobId: jobId! })
      const logged: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Error") logged.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.fail(new Error("last attempt fails")))] },
        eventually(jobRow(jobId!), (row) => row?.state === "dead_letter_conflict")
      ).pipe(Effect.provide(Logger.add(capture)))
      const [row] = yield* sql<{ lockedBy: string | null; errorHistory: unknown }>`
        select locked_by, error_history from redrive.job where id = ${jobId!}`
      assert.isNull(row!.lockedBy)
      assert.deepInclude(decodeHistory(row!.errorHistory).at(-1), { attempt: 1, kind: "failed", message: "last attempt fails" })
      const dlq = yield* sql<{ id: string }>`select id from redrive.job_dlq where job_id = ${jobId!}`
      assert.deepStrictEqual(dlq.map((r) => Number(r.id)), [existing.id])
      assert.isTrue(logged.some((m) => m.includes("could not be dead-lettered") && m.includes("dead_letter_conflict")))
      assert.deepInclude(yield* stats(tenantId), { errorClass: "unknown", failures: 1, deadLettered: 0, recovered: 0 })
    }))

  it.effect("a snooze and a discard are recorded under their own class and kind, and neither counts as a failure", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = JobDefinition.make({
        name: Factory.unique("verdicts"),
        queue: Factory.queue(),
        payload: Schema.Struct({ verdict: Schema.Literal("snooze", "discard") })
      })
      const tenantId = Factory.tenant()
      const payloads: ReadonlyArray<typeof Def.payload.Type> = [{ verdict: "snooze" }, { verdict: "discard" }]
      const [snoozed, discarded] = Enqueue.ids(yield* Enqueue.many(Def, payloads, { tenantId }))
      const handler = JobDefinition.handle(Def, (p): Effect.Effect<void, Verdict.Verdict> =>
        p.verdict === "snooze" ? Effect.fail(Verdict.snooze("1 hour", "export not ready")) : Effect.fail(Verdict.discard("order cancelled")))
      const rows = yield* withWorker(
        { handlers: [handler] },
        eventually(
          sql<{ id: string; state: string; attempt: number; errorHistory: unknown }>`
            select id, state, attempt, error_history from redrive.job
            where id = any(${[snoozed!, discarded!]}::bigint[]) and jsonb_array_length(error_history) > 0 order by id`,
          (found) => found.length === 2 && found.every((row) => row.state !== "running")
        )
      )
      const recorded = rows.map((row) => {
        const last = decodeHistory(row.errorHistory).at(-1)
        return {
          state: row.state,
          attempt: row.attempt,
          entry: last?.kind === "dropped" || last === undefined ? undefined : [last.kind, last.errorClass, last.tag, last.message]
        }
      })
      assert.deepStrictEqual(recorded, [
        { state: "available", attempt: 0, entry: ["snoozed", "snoozed", "Redrive/Snooze", "export not ready"] },
        { state: "cancelled", attempt: 1, entry: ["discarded", "discarded", "Redrive/Discard", "order cancelled"] }
      ])
      assert.deepStrictEqual(yield* stats(tenantId), [])
    }))

  it.effect("a success after a failure and a snooze counts as recovered from the failure's class, not the snooze's", () =>
    Effect.gen(function*() {
      const Def = definition({ retry: { maxAttempts: 3, base: 0 } })
      const tenantId = Factory.tenant()
      const { id } = yield* Enqueue.one(Def, payload, { tenantId })
      let runs = 0
      // Run 1 fails (unknown), run 2 snoozes (its attempt given back), run 3 succeeds as attempt 2.
      const handler = JobDefinition.handle(Def, (): Effect.Effect<void, Error | Verdict.Verdict> => {
        runs++
        return runs === 1 ? Effect.fail(new Error("flaky")) : runs === 2 ? Effect.fail(Verdict.snooze(0)) : Effect.void
      })
      yield* withWorker({ handlers: [handler] }, eventually(count(`redrive.job where id = ${id}`), (n) => n === 0))
      assert.strictEqual(runs, 3)
      assert.deepStrictEqual(yield* stats(tenantId), [{ errorClass: "unknown", failures: 1, deadLettered: 0, recovered: 1 }])
    }))

  it.effect("a success after a rate limit's free wait counts as recovered from rate_limit", () =>
    Effect.gen(function*() {
      const Def = definition()
      const tenantId = Factory.tenant()
      const { id } = yield* Enqueue.one(Def, payload, { tenantId })
      let runs = 0
      const handler = JobDefinition.handle(Def, () => {
        runs++
        return runs === 1 ? Effect.fail(new JobErrors.RateLimitError({ message: "429", retryAfterMillis: 0 })) : Effect.void
      })
      yield* withWorker({ handlers: [handler] }, eventually(count(`redrive.job where id = ${id}`), (n) => n === 0))
      assert.strictEqual(runs, 2)
      assert.deepStrictEqual(yield* stats(tenantId), [{ errorClass: "rate_limit", failures: 1, deadLettered: 0, recovered: 1 }])
    }))

  it.effect("completed jobs are counted per tenant, queue and minute in throughput_stat; failures are not", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({
        name: Factory.unique("throughput"),
        queue: Factory.queue(),
        payload: Schema.Struct({ to: Schema.String, fail: Schema.Boolean })
      })
      const a = Factory.tenant()
      const b = Factory.tenant()
      const jobs = (tenantId: string, ok: number, failing: number) =>
        Enqueue.many(Def, [
          ...Array.from({ length: ok }, (_, i) => ({ to: `ok${i}@example.com`, fail: false })),
          ...Array.from({ length: failing }, (_, i) => ({ to: `bad${i}@example.com`, fail: true }))
        ], { tenantId })
      yield* jobs(a, 25, 5)
      yield* jobs(b, 7, 0)
      const handler = JobDefinition.handle(Def, (p): Effect.Effect<void, Verdict.Verdict> =>
        p.fail ? Effect.fail(Verdict.deadLetterNow("bad address")) : Effect.void)
      // The worker's scope closes after the last job is settled: its finalizer flushes the counts.
      yield* withWorker(
        { handlers: [handler] },
        eventually(count(`redrive.job where type = '${Def.name}'`), (n) => n === 0)
      )
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ tenantId: string; queue: string; completed: number; thisMinute: boolean }>`
        select tenant_id, queue, sum(completed)::int as completed,
               bool_and(bucket >= date_trunc('minute', now()) - interval '1 minute') as this_minute
        from redrive.throughput_stat where tenant_id in (${a}, ${b})
        group by tenant_id, queue order by completed desc`
      assert.deepStrictEqual(rows, [
        { tenantId: a, queue: Def.queue, completed: 25, thisMinute: true },
        { tenantId: b, queue: Def.queue, completed: 7, thisMinute: true }
      ])
    }))
})
