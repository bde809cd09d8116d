import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { DatabaseError, Ids, JobDlqRepo, JobRepo } from "@redrive/database"
import { TestDatabase } from "@redrive/database/testing"
import { Cause, Context, Effect, Exit, Layer, Option, Ref } from "effect"
import * as JobCommands from "../src/JobCommands.js"
import * as JobEntity from "../src/JobEntity.js"
import * as JobRegistry from "../src/JobRegistry.js"
import { Replay } from "../src/Replay.js"
import * as ReplayModule from "../src/Replay.js"
import { Email, seedDeadLetters } from "./replayFixtures.js"

/** Every replayOne the entity's handlers ran, so a test can tell a deduplicated request from a re-run. */
class ReplayCalls extends Context.Tag("test/ReplayCalls")<ReplayCalls, Ref.Ref<ReadonlyArray<ReplayModule.ReplayOneInput>>>() {}

/** The real Replay, counted; `by: "boom"` dies (a handler defect), `by: "slow"` takes a second. */
const CountedReplay = Layer.effect(
  Replay,
  Effect.gen(function*() {
    const calls = yield* ReplayCalls
    const inner = yield* ReplayModule.make()
    return Replay.of({
      ...inner,
      replayOne: (input) =>
        Ref.update(calls, (all) => [...all, input]).pipe(
          Effect.zipRight(
            input.by === "boom"
              ? Effect.dieMessage("replay handler exploded")
              : input.by === "slow"
              ? Effect.delay(inner.replayOne(input), "1 second")
              : inner.replayOne(input)
          )
        )
    })
  })
).pipe(Layer.provideMerge(Layer.effect(ReplayCalls, Ref.make<ReadonlyArray<ReplayModule.ReplayOneInput>>([]))))

const TestLayer = JobEntity.layerSingleRunner({
  // Messages sent by this process are delivered at once (polling only finds leftovers);
  // fewer shards means fewer advisory locks to take before the first message.
  shardingConfig: { entityMessagePollInterval: "1 second", shardsPerGroup: 30 }
}).pipe(
  Layer.provideMerge(Layer.mergeAll(CountedReplay, JobCommands.layer())),
  Layer.provideMerge(Layer.mergeAll(JobRegistry.layer([Email]), JobDlqRepo.layerInsecureDefault, JobRepo.JobRepo.Default)),
  Layer.provideMerge(TestDatabase.layer)
)

const oneDeadLetter = (queue: string) =>
  Effect.map(seedDeadLetters({ queue, count: 1 }), (ids) => ids[0]!)

const callsFor = (id: Ids.DlqId) =>
  Effect.flatMap(ReplayCalls, Ref.get).pipe(Effect.map((all) => all.filter((c) => c.id === id)))

const jobsReplayedFrom = (id: Ids.DlqId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ id: string }>`select id from redrive.job where replay_of = ${id}`)
    .pipe(Effect.map((rows) => rows.map((r) => Number(r.id))))

const seedJob = (queue: string, state: "available" | "running", runInSeconds: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string }>`
      insert into redrive.job (queue, type, payload, state, attempt, run_at, locked_by, locked_until)
      values (${queue}, 'email.send', '{"to":"a@example.com"}'::jsonb, ${state}, 1,
              now() + ${runInSeconds} * interval '1 second', ${state === "running" ? "worker-1" : null},
              case when ${state} = 'running' then now() + interval '1 minute' end)
      returning id`).pipe(Effect.map((rows) => Ids.JobId.make(Number(rows[0]!.id))))

layer(TestLayer, { excludeTestServices: true, timeout: "30 seconds" })("JobEntity", (it) => {
  it.effect("Replay of a dead letter creates one job linked to it", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const id = yield* oneDeadLetter("entity-replay")
      const result = yield* client.replay(id, { requestId: "replay-1", by: "alice" })
      assert.isTrue(result.created)
      assert.deepStrictEqual(yield* jobsReplayedFrom(id), [result.jobId])
      const dlq = Option.getOrThrow(yield* Effect.flatMap(JobDlqRepo.JobDlqRepo, (r) => r.get(id)))
      assert.strictEqual(dlq.replayJobId, result.jobId)
      assert.strictEqual(dlq.replayedBy, "alice")
      const job = Option.getOrThrow(yield* Effect.flatMap(JobRepo.JobRepo, (r) => r.findById(result.jobId)))
      assert.strictEqual(job.replayOf, id)
      assert.strictEqual(job.state, "available")
    }))

  it.effect("the same requestId twice runs the handler once and returns the stored reply", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const sql = yield* SqlClient.SqlClient
      const id = yield* oneDeadLetter("entity-dedup")
      const first = yield* client.replay(id, { requestId: "dedup-1", by: "alice" })
      const second = yield* client.replay(id, { requestId: "dedup-1", by: "alice" })
      // A re-run would have answered created: false; the stored reply is the first one.
      assert.deepStrictEqual(second, first)
      assert.isTrue(second.created)
      assert.strictEqual((yield* callsFor(id)).length, 1)
      assert.deepStrictEqual(yield* jobsReplayedFrom(id), [first.jobId])
      const stored = yield* sql<{ n: string }>`
        select count(*) as n from cluster_messages where message_id = ${`RedriveJob/dlq:${id}/Replay/dedup-1`}`
      assert.strictEqual(Number(stored[0]!.n), 1)
    }))

  it.effect("another requestId for a replayed dead letter returns the same job", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const id = yield* oneDeadLetter("entity-again")
      const first = yield* client.replay(id, { requestId: "again-1", by: "alice" })
      const second = yield* client.replay(id, { requestId: "again-2", by: "bob" })
      assert.isTrue(first.created)
      assert.isFalse(second.created)
      assert.strictEqual(second.jobId, first.jobId)
      assert.strictEqual((yield* callsFor(id)).length, 2)
      assert.deepStrictEqual(yield* jobsReplayedFrom(id), [first.jobId])
    }))

  it.effect("an edited payload travels as JSON and is validated with the job's Schema", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const id = yield* oneDeadLetter("entity-edit")
      const invalid = yield* Effect.flip(client.replay(id, { requestId: "edit-1", by: "alice", payload: { to: "nope" } }))
      assert.instanceOf(invalid, ReplayModule.InvalidPayload)
      assert.strictEqual(invalid._tag === "Redrive/InvalidPayload" && invalid.field, "to")
      assert.deepStrictEqual(yield* jobsReplayedFrom(id), [])
      const edited = yield* client.replay(id, { requestId: "edit-2", by: "alice", payload: { to: " b@example.com " } })
      const job = Option.getOrThrow(yield* Effect.flatMap(JobRepo.JobRepo, (r) => r.findById(edited.jobId)))
      assert.deepStrictEqual(job.payload, { to: "b@example.com" })
    }))

  it.effect("typed errors come back typed, once, without retries", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const missing = Ids.DlqId.make(987_654_321)
      const notFound = yield* Effect.flip(client.replay(missing, { requestId: "missing-1", by: "alice" }))
      assert.instanceOf(notFound, DatabaseError.DeadLetterNotFound)
      assert.strictEqual(notFound._tag === "Redrive/DeadLetterNotFound" && notFound.id, missing)
      // Stored as the reply: the same request is answered from storage, not re-run.
      const again = yield* Effect.flip(client.replay(missing, { requestId: "missing-1", by: "alice" }))
      assert.strictEqual(again._tag, "Redrive/DeadLetterNotFound")
      assert.strictEqual((yield* callsFor(missing)).length, 1)

      const raw = yield* JobEntity.JobEntity.client
      const wrongKind = yield* Effect.flip(raw("dlq:1").Cancel({ requestId: "kind-1", by: "alice" }))
      assert.instanceOf(wrongKind, JobEntity.WrongEntityKind)
      assert.strictEqual(wrongKind._tag === "Redrive/WrongEntityKind" && wrongKind.expected, "job")
      const badId = yield* Effect.flip(raw("job:abc").Get())
      assert.instanceOf(badId, JobEntity.InvalidEntityId)
      const unknownJob = yield* Effect.flip(client.get({ kind: "job", id: Ids.JobId.make(987_654_321) }))
      assert.instanceOf(unknownJob, JobCommands.JobNotFound)
    }))

  it.effect("a handler defect reaches the caller instead of being redelivered", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const sql = yield* SqlClient.SqlClient
      const id = yield* oneDeadLetter("entity-defect")
      const exit = yield* client.replay(id, { requestId: "boom-1", by: "boom" }).pipe(Effect.timeout("10 seconds"), Effect.exit)
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause), `expected a defect, got ${String(exit)}`)
      yield* Effect.sleep("1500 millis")
      assert.strictEqual((yield* callsFor(id)).length, 1)
      const [message] = yield* sql<{ processed: boolean }>`
        select processed from cluster_messages where message_id = ${`RedriveJob/dlq:${id}/Replay/boom-1`}`
      assert.isTrue(message!.processed)
    }))

  it.effect("a caller that gives up does not cancel a replay; retrying its requestId gets the job", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const id = yield* oneDeadLetter("entity-timeout")
      const gaveUp = yield* client.replay(id, { requestId: "slow-1", by: "slow" }).pipe(
        Effect.timeout("200 millis"),
        Effect.flip
      )
      assert.strictEqual(gaveUp._tag, "TimeoutException")
      const retried = yield* client.replay(id, { requestId: "slow-1", by: "slow" }).pipe(Effect.timeout("10 seconds"))
      assert.isTrue(retried.created)
      assert.deepStrictEqual(yield* jobsReplayedFrom(id), [retried.jobId])
      assert.strictEqual((yield* callsFor(id)).length, 1)
    }))

  it.effect("Get, RetryNow and Cancel act on a job through the entity", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const id = yield* seedJob("entity-job", "available", 3600)
      const viewed = yield* client.get({ kind: "job", id })
      assert.strictEqual(viewed.kind === "job" && viewed.job.id, id)
      const moved = yield* client.retryNow(id, { requestId: "now-1", by: "alice" })
      assert.isTrue(moved.rescheduled)
      assert.isTrue(moved.job.runAt.getTime() <= Date.now() + 1000)
      const cancelled = yield* client.cancel(id, { requestId: "cancel-1", by: "alice", reason: "not needed" })
      assert.strictEqual(cancelled.job.state, "cancelled")
      const last = cancelled.job.errorHistory[cancelled.job.errorHistory.length - 1]
      assert.strictEqual(last?.kind !== "dropped" && last?.message, "cancelled by alice: not needed")
      const after = yield* client.get({ kind: "job", id })
      assert.strictEqual(after.kind === "job" && after.job.state, "cancelled")

      const running = yield* seedJob("entity-running", "running", 0)
      const refused = yield* Effect.flip(client.cancel(running, { requestId: "cancel-2", by: "alice" }))
      assert.instanceOf(refused, JobCommands.JobRunning)
    }))

  it.effect("a persisted request round trip is fast enough for an operator command", () =>
    Effect.gen(function*() {
      const client = yield* JobEntity.client
      const rounds = 20
      const ids = yield* Effect.forEach(Array.from({ length: rounds }), () => seedJob("entity-latency", "available", 60))
      const started = Date.now()
      for (const [i, id] of ids.entries()) {
        yield* client.retryNow(id, { requestId: `latency-${i}`, by: "bench" })
      }
      const perRequest = (Date.now() - started) / rounds
      yield* Effect.logInfo(`persisted RetryNow round trip: ${perRequest.toFixed(1)} ms (mean of ${rounds})`)
      assert.isBelow(perRequest, 500)
    }))
})
