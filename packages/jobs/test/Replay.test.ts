import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory, Ids, JobDlqRepo, JobRepo, Tenant } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Deferred, Duration, Effect, Fiber, Layer, Option, Queue, Schedule, Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as JobRegistry from "../src/JobRegistry.js"
import * as Limits from "../src/Limits.js"
import * as Notify from "../src/Notify.js"
import { Replay } from "../src/Replay.js"
import * as ReplayModule from "../src/Replay.js"
import { Email, history3, replayCounts, seedDeadLetters, unreplayed } from "./replayFixtures.js"
import { listenForWakeUps } from "./notifyFixtures.js"
import { assertPausedUntilResumed, deadLettersInPausedScopes } from "./pausedScopeFixtures.js"

const TestLayer = ReplayModule.layer().pipe(
  Layer.provideMerge(Layer.mergeAll(JobRegistry.layer([Email]), JobDlqRepo.layerInsecureDefault, JobRepo.JobRepo.Default)),
  Layer.provideMerge(TestDatabase.layer)
)

const one = <A>(id: number, f: (dlqId: Ids.DlqId) => A) => f(Ids.DlqId.make(id))
const firstId = (ids: ReadonlyArray<Ids.DlqId>) => {
  const id = ids[0]
  if (id === undefined) throw new Error("no dead letter was seeded")
  return id
}
const getDlq = (id: Ids.DlqId) => Effect.flatMap(JobDlqRepo.JobDlqRepo, (repo) => repo.get(id)).pipe(Effect.map(Option.getOrThrow))
const getJob = (id: Ids.JobId) => Effect.flatMap(JobRepo.JobRepo, (repo) => repo.findById(id)).pipe(Effect.map(Option.getOrThrow))

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("Replay.replayOne", (it) => {
  it.effect("replaying a dead letter twice returns the same job and creates one job row", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const id = firstId(yield* seedDeadLetters({ queue: "idem", count: 1 }))
      const first = yield* replay.replayOne({ id, by: "alice" })
      const second = yield* replay.replayOne({ id, by: "bob" })
      assert.isTrue(first.created)
      assert.isFalse(second.created)
      assert.strictEqual(second.jobId, first.jobId)
      assert.deepStrictEqual([...(yield* replayCounts([id]))], [[id, 1]])
      assert.strictEqual((yield* getDlq(id)).replayedBy, "alice")
    }))

  it.effect("concurrent replays of one dead letter create exactly one job", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      const id = firstId(yield* seedDeadLetters({ queue: "race", count: 1 }))
      // Hold the dead letter's row lock so that every replay is in flight at the same moment.
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* sql`select id from redrive.job_dlq where id = ${id} for update`.pipe(
        Effect.zipRight(Deferred.succeed(locked, undefined)),
        Effect.zipRight(Deferred.await(release)),
        sql.withTransaction,
        Effect.fork
      )
      yield* Deferred.await(locked)
      const racers = yield* Effect.fork(Effect.all(
        Array.from({ length: 6 }, (_, i) => replay.replayOne({ id, by: `op-${i}` })),
        { concurrency: "unbounded" }
      ))
      const waiting = sql<{ n: string }>`
        select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
      yield* waiting.pipe(
        Effect.repeat({ until: (rows) => Number(rows[0]?.n) >= 6, schedule: Schedule.spaced("10 millis") }),
        Effect.timeout("5 seconds")
      )
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const results = yield* Fiber.join(racers)
      assert.strictEqual(results.filter((r) => r.created).length, 1)
      assert.strictEqual(new Set(results.map((r) => r.jobId)).size, 1)
      assert.deepStrictEqual([...(yield* replayCounts([id]))], [[id, 1]])
    }))

  it.effect("a replayed job keeps its lineage and its history plus one `replayed` entry", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const id = firstId(yield* seedDeadLetters({ queue: "lineage", count: 1, tenant: "acme" }))
      const before = yield* getDlq(id)
      const { jobId } = yield* replay.replayOne({ id, by: "alice" })
      const dlq = yield* getDlq(id)
      const job = yield* getJob(jobId)

      assert.strictEqual(job.replayOf, id)
      assert.strictEqual(dlq.replayJobId, jobId)
      assert.strictEqual(dlq.replayedBy, "alice")
      assert.isNotNull(dlq.replayedAt)
      assert.deepInclude(job, {
        tenantId: before.tenantId,
        queue: before.queue,
        type: before.type,
        priority: before.priority,
        maxAttempts: before.maxAttempts,
        state: "available",
        attempt: 0,
        requestId: before.requestId,
        userId: before.userId
      })
      assert.deepStrictEqual(job.payload, before.payload)
      assert.isAtMost(Math.abs(job.runAt.getTime() - Date.now()), 60_000)

      // The job's history decoded with the ErrorHistory Schema (JobRepo decodes every row).
      assert.strictEqual(job.errorHistory.length, 4)
      assert.deepStrictEqual(job.errorHistory.slice(0, 3), history3)
      assert.deepStrictEqual(job.errorHistory[3], {
        attempt: 3,
        at: dlq.replayedAt!,
        kind: "replayed",
        errorClass: "external_api",
        tag: "Replayed",
        message: "replayed by alice",
        by: "alice"
      })
      // The dead letter itself keeps its original history.
      assert.deepStrictEqual(dlq.errorHistory, history3)
    }))

  it.effect("the replayed entry goes through the history cap", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const long: ErrorHistory.ErrorHistory = Array.from({ length: 50 }, (_, i) => ({
        attempt: i + 1,
        at: new Date(Date.UTC(2026, 10, 1, 0, 0, i)),
        kind: "failed" as const,
        errorClass: "unknown",
        tag: "Boom",
        message: `failure ${i + 1}`
      }))
      const id = firstId(yield* seedDeadLetters({ queue: "cap", count: 1, history: long }))
      const { jobId } = yield* replay.replayOne({ id, by: "alice" })
      const history = (yield* getJob(jobId)).errorHistory
      assert.strictEqual(history.length, ErrorHistory.defaultCap)
      assert.deepStrictEqual(history[0], long[0])
      assert.deepInclude(history[1], { kind: "dropped", count: 2 })
      assert.deepInclude(history[history.length - 1], { kind: "replayed", by: "alice" })
    }))

  it.effect("an edited payload that fails the Schema is refused with the field named, and nothing is written", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      const id = firstId(yield* seedDeadLetters({ queue: "bad-edit", count: 1 }))
      const jobsBefore = yield* sql<{ n: string }>`select count(*) as n from redrive.job`

      const wrongType = yield* Effect.flip(replay.replayOne({ id, by: "alice", payload: { to: 42 } }))
      assert.strictEqual(wrongType._tag, "Redrive/InvalidPayload")
      if (wrongType._tag === "Redrive/InvalidPayload") {
        assert.strictEqual(wrongType.field, "to")
        assert.strictEqual(wrongType.type, "email.send")
        assert.include(wrongType.message, "string")
      }
      const nested = yield* Effect.flip(
        replay.replayOne({ id, by: "alice", payload: { to: "a@example.com", address: { zip: "123" } } })
      )
      assert.deepInclude(nested, { _tag: "Redrive/InvalidPayload", field: "address.zip", path: ["address", "zip"] })
      const refined = yield* Effect.flip(replay.replayOne({ id, by: "alice", payload: { to: "nobody" } }))
      assert.deepInclude(refined, { _tag: "Redrive/InvalidPayload", field: "to", message: "must be an email address" })

      assert.strictEqual(yield* unreplayed([id]), 1)
      assert.strictEqual((yield* replayCounts([id])).size, 0)
      const jobsAfter = yield* sql<{ n: string }>`select count(*) as n from redrive.job`
      assert.deepStrictEqual(jobsAfter, jobsBefore)
    }))

  it.effect("a valid edited payload is stored in its encoded form", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const id = firstId(yield* seedDeadLetters({ queue: "good-edit", count: 1 }))
      const { created, jobId } = yield* replay.replayOne({
        id,
        by: "alice",
        payload: { to: "  fixed@example.com ", address: { zip: "75001" }, ignored: true }
      })
      assert.isTrue(created)
      // Trimmed by the Schema, unknown keys dropped: what the Schema encodes, not what was sent.
      assert.deepStrictEqual((yield* getJob(jobId)).payload, { to: "fixed@example.com", address: { zip: "75001" } })
      // The dead letter keeps the payload that failed.
      assert.deepStrictEqual((yield* getDlq(id)).payload, { to: "user1@example.com" })
    }))

  it.effect("an edited payload over the per-job byte limit is refused, and the dead letter is left untouched", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const id = firstId(yield* seedDeadLetters({ queue: Factory.queue(), count: 1 }))
      const before = yield* getDlq(id)
      // 600,001 characters, 1.2 MB in UTF-8: over 1 MiB only when counted in bytes.
      const to = `a@${"é".repeat(600_000)}`
      const bytes = Buffer.byteLength(JSON.stringify({ to }), "utf8")

      const refused = yield* Effect.flip(replay.replayOne({ id, by: "alice", payload: { to } }))
      assert.instanceOf(refused, Limits.PayloadTooLarge)
      assert.deepInclude(refused, { field: "payload", bytes, limit: Limits.defaults.payloadBytes })
      assert.strictEqual(yield* unreplayed([id]), 1)
      assert.strictEqual((yield* replayCounts([id])).size, 0)
      assert.deepStrictEqual(yield* getDlq(id), before)

      // The stored payload still replays.
      assert.isTrue((yield* replay.replayOne({ id, by: "alice" })).created)
    }))

  it.effect("an edited payload for a type with no definition is an UnknownJobType; the stored one still replays", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const id = firstId(yield* seedDeadLetters({ queue: "unknown-type", type: "sms.send", count: 1 }))
      const error = yield* Effect.flip(replay.replayOne({ id, by: "alice", payload: { to: "+33" } }))
      assert.instanceOf(error, ReplayModule.UnknownJobType)
      assert.deepInclude(error, { _tag: "Redrive/UnknownJobType", type: "sms.send" })
      assert.strictEqual(yield* unreplayed([id]), 1)
      // Without an edit nothing needs validating.
      assert.isTrue((yield* replay.replayOne({ id, by: "alice" })).created)
    }))

  it.effect("replaying an id that does not exist is DeadLetterNotFound", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const missing = yield* Effect.flip(one(987_654_321, (id) => replay.replayOne({ id, by: "alice" })))
      assert.deepInclude(missing, { _tag: "Redrive/DeadLetterNotFound", id: 987_654_321 })
      const missingEdit = yield* Effect.flip(
        one(987_654_321, (id) => replay.replayOne({ id, by: "alice", payload: { to: "a@b.c" } }))
      )
      assert.strictEqual(missingEdit._tag, "Redrive/DeadLetterNotFound")
    }))

  it.effect("tenant B cannot replay tenant A's dead letter, even with its id", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const a = Ids.TenantId.make("tenant-a")
      const b = Ids.TenantId.make("tenant-b")
      const id = firstId(yield* seedDeadLetters({ queue: "rls", count: 1, tenant: a }))

      const asB = yield* Effect.flip(Tenant.withTenant(b, replay.replayOne({ id, by: "mallory" })))
      assert.strictEqual(asB._tag, "Redrive/DeadLetterNotFound")
      const asBEdit = yield* Effect.flip(
        Tenant.withTenant(b, replay.replayOne({ id, by: "mallory", payload: { to: "m@evil.test" } }))
      )
      assert.strictEqual(asBEdit._tag, "Redrive/DeadLetterNotFound")
      assert.strictEqual(yield* unreplayed([id]), 1)

      const asA = yield* Tenant.withTenant(a, replay.replayOne({ id, by: "alice" }))
      assert.isTrue(asA.created)
      assert.strictEqual((yield* getJob(asA.jobId)).tenantId, a)
    }))

  it.effect("tenant B cannot see, cancel or count tenant A's bulk replays", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const a = Ids.TenantId.make("bulk-a")
      const b = Ids.TenantId.make("bulk-b")
      yield* seedDeadLetters({ queue: "rls-bulk", count: 4, tenant: a })
      yield* seedDeadLetters({ queue: "rls-bulk", count: 2, tenant: b })
      const filter = { queue: Ids.QueueName.make("rls-bulk") }
      const requestA = yield* Tenant.withTenant(
        a,
        replay.createBulk({ filter, scopeTenant: a, dryRun: false, requestedBy: "alice" })
      )
      assert.strictEqual(requestA.matched, 4)
      // A tenant-scoped "every tenant" request, or one for another tenant, is refused, naming the field.
      for (const scopeTenant of ["*", a] as const) {
        const refused = yield* Effect.flip(
          Tenant.withTenant(b, replay.createBulk({ filter, scopeTenant, dryRun: true, requestedBy: "mallory" }))
        )
        assert.deepInclude(refused, { _tag: "Redrive/InvalidBulkReplay", field: "scopeTenant" })
      }
      // Even a filter naming tenant A counts only what B may see.
      const peek = yield* Tenant.withTenant(
        b,
        replay.createBulk({ filter: { ...filter, tenantId: a }, scopeTenant: b, dryRun: true, requestedBy: "mallory" })
      )
      assert.strictEqual(peek.matched, 0)
      const seen = yield* Effect.flip(Tenant.withTenant(b, replay.get(requestA.id)))
      assert.strictEqual(seen._tag, "Redrive/ReplayRequestNotFound")
      const cancelled = yield* Effect.flip(Tenant.withTenant(b, replay.cancel(requestA.id)))
      assert.strictEqual(cancelled._tag, "Redrive/ReplayRequestNotFound")
      assert.strictEqual((yield* replay.get(requestA.id)).state, "pending")
      // Reusing A's request id from B creates B's own request under that id, not a view of A's.
      const reuse = yield* Tenant.withTenant(
        b,
        replay.createBulk({ id: requestA.id, filter, scopeTenant: b, dryRun: true, requestedBy: "m" })
      )
      assert.deepInclude(reuse, { id: requestA.id, tenantId: b, matched: 2, dryRun: true })
      assert.deepInclude(yield* Tenant.withTenant(a, replay.get(requestA.id)), { tenantId: a, matched: 4, dryRun: false })
    }))

  it.effect("another tenant's replay request id is, for this tenant, an unused id", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      const a = Factory.tenant()
      const b = Factory.tenant()
      const queue = Factory.queue()
      yield* seedDeadLetters({ queue, count: 3, tenant: a })
      yield* seedDeadLetters({ queue, count: 1, tenant: b })
      const filter = { queue }
      const taken = Ids.ReplayRequestId.make(randomUUID())
      const unused = Ids.ReplayRequestId.make(randomUUID())
      const requestA = yield* Tenant.withTenant(
        a,
        replay.createBulk({ id: taken, filter, scopeTenant: a, dryRun: false, requestedBy: "alice" })
      )
      assert.deepInclude(requestA, { id: taken, tenantId: a, matched: 3 })
      // get: the same refusal for a's id as for an id nobody used.
      const getTaken = yield* Effect.flip(Tenant.withTenant(b, replay.get(taken)))
      const getUnused = yield* Effect.flip(Tenant.withTenant(b, replay.get(unused)))
      assert.deepStrictEqual({ ...getTaken, id: "" }, { ...getUnused, id: "" })
      assert.strictEqual(getTaken._tag, "Redrive/ReplayRequestNotFound")
      // createBulk: b gets its own request under either id, shaped alike.
      const input = { filter, scopeTenant: b, dryRun: false, requestedBy: "mallory" }
      const onTaken = yield* Tenant.withTenant(b, replay.createBulk({ ...input, id: taken }))
      const onUnused = yield* Tenant.withTenant(b, replay.createBulk({ ...input, id: unused }))
      const shape = (r: typeof onTaken) => ({ tenantId: r.tenantId, state: r.state, matched: r.matched, replayed: r.replayed })
      assert.deepStrictEqual(shape(onTaken), shape(onUnused))
      assert.deepInclude(onTaken, { id: taken, tenantId: b, matched: 1, requestedBy: "mallory" })
      // Idempotent per tenant: b again gets b's request; a's request is untouched.
      assert.deepStrictEqual(yield* Tenant.withTenant(b, replay.createBulk({ ...input, id: taken })), onTaken)
      assert.deepStrictEqual(yield* Tenant.withTenant(a, replay.get(taken)), requestA)
      const rows = yield* sql<{ tenantId: string }>`
        select tenant_id from redrive.replay_request where id = ${taken} order by tenant_id`
      assert.deepStrictEqual(rows.map((r) => r.tenantId).sort(), [a, b].sort())
      // Cancelling under b cancels b's request only.
      assert.strictEqual((yield* Tenant.withTenant(b, replay.cancel(taken))).state, "cancelled")
      assert.strictEqual((yield* Tenant.withTenant(a, replay.get(taken))).state, "pending")
    }))

  it.scoped("a replay NOTIFYs the workers of the job's queue", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const received = yield* listenForWakeUps
      const sql = yield* SqlClient.SqlClient
      const id = firstId(yield* seedDeadLetters({ queue: "notify-q", count: 1 }))
      yield* replay.replayOne({ id, by: "alice" })
      const next = yield* Queue.take(received).pipe(
        Effect.repeat({ until: (p) => p !== "probe" }),
        Effect.timeout(Duration.seconds(5))
      )
      assert.strictEqual(next, "notify-q")
      // A second (idempotent) call replays nothing and wakes nobody.
      yield* replay.replayOne({ id, by: "alice" })
      yield* sql`select pg_notify(${Notify.channel}, 'marker')`
      const after = yield* Queue.take(received).pipe(
        Effect.repeat({ until: (p) => p !== "probe" }),
        Effect.timeout(Duration.seconds(5))
      )
      assert.strictEqual(after, "marker")
    }))

  it.effect("a replay into a paused scope waits as paused, and no worker runs it until the scope resumes", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const deadLetters = yield* deadLettersInPausedScopes
      for (const d of deadLetters) assert.isTrue((yield* replay.replayOne({ id: d.dlqId, by: "alice" })).created)
      yield* assertPausedUntilResumed(deadLetters)
    }))

  it.effect("the replayed entry is an ErrorHistory entry", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const sql = yield* SqlClient.SqlClient
      const id = firstId(yield* seedDeadLetters({ queue: "entry-shape", count: 1 }))
      const { jobId } = yield* replay.replayOne({ id, by: "ops@example.com" })
      const raw = yield* sql<{ entry: { readonly at?: unknown } }>`
        select error_history -> -1 as entry from redrive.job where id = ${jobId}`
      const entry = yield* Schema.decodeUnknown(ErrorHistory.AttemptEntry)(raw[0]?.entry)
      assert.strictEqual(entry.kind, "replayed")
      assert.strictEqual(entry.message, "replayed by ops@example.com")
      // Stored as the ISO text a JS Date prints, like every other entry.
      assert.match(String(raw[0]?.entry.at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    }))
})
