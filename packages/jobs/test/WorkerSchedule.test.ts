/**
 * Nothing runs before its run_at: a retry waits out its backoff, a snooze its delay, a RetryAt
 * verdict its time and a scheduled enqueue its start. Each job is watched while a worker polls
 * every 50 ms: seen waiting shortly before run_at, then seen running, not earlier than run_at.
 */
import { assert, layer } from "@effect/vitest"
import { Factory as F, TestDatabase } from "@redrive/database/testing"
import { Deferred, Effect, Option, Ref, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Verdict from "../src/Verdict.js"
import { jobRow, sleepUntil } from "./jobRows.js"
import { eventually, withWorker } from "./workerFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })

/** Records when each run of a job starts; returns how many runs came before this one. */
const recordStart = (starts: Ref.Ref<ReadonlyArray<number>>) =>
  Ref.modify(starts, (s) => [s.length, [...s, Date.now()]] as const)

/** How far before the job's run_at the test looks at it: well above a poll, well below the delays used here. */
const lookAhead = 400

/**
 * The job has run `runsBefore` times and must not run again before `runAt`: shortly before
 * run_at it has not, and its row is waiting; then it runs once more, no earlier than run_at,
 * and completes. The worker keeps polling throughout.
 */
const waitsThenRuns = (id: number, runAt: Date, starts: Ref.Ref<ReadonlyArray<number>>, runsBefore: number) =>
  Effect.gen(function*() {
    yield* sleepUntil(runAt.getTime() - lookAhead)
    const early = yield* Ref.get(starts)
    const waiting = Option.getOrThrow(yield* jobRow(id))
    const tooEarly = early.length > runsBefore ? runAt.getTime() - early[runsBefore]! : 0
    assert.strictEqual(early.length, runsBefore, `run ${runsBefore + 1} started ${tooEarly} ms before its run_at`)
    assert.strictEqual(waiting.state, "available", "waiting shortly before its run_at")
    const started = yield* eventually(Ref.get(starts), (s) => s.length > runsBefore, "10 seconds")
    assert.isAtLeast(started[runsBefore]!, runAt.getTime(), "ran no earlier than its run_at")
    yield* eventually(jobRow(id), (row) => Option.isSome(row) && row.value.state === "completed")
    assert.strictEqual((yield* Ref.get(starts)).length, runsBefore + 1, "ran once more")
  })

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("worker schedule", (it) => {
  it.effect("a failed attempt is retried after its backoff, not before", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({
        name: "backoff.job",
        payload: Payload,
        queue: F.queue(),
        retry: { maxAttempts: 3, base: "1 second", jitter: "none" }
      })
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const handler = JobDefinition.handle(Def, (_, ctx) =>
        Effect.zipRight(recordStart(starts), ctx.attempt === 1 ? Effect.fail(new Error("upstream 503")) : Effect.void))
      yield* withWorker(
        { handlers: [handler], keepCompleted: true },
        Effect.gen(function*() {
          const { id } = yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
          const failed = Option.getOrThrow(
            yield* eventually(jobRow(id), (row) => Option.isSome(row) && row.value.errorHistory.length === 1)
          )
          const [entry] = failed.errorHistory
          assert(entry?.kind === "failed", "the first attempt failed")
          assert.strictEqual(failed.runAt.getTime() - entry.at.getTime(), 1000, "a backoff of 1 s, without jitter")
          yield* waitsThenRuns(id, failed.runAt, starts, 1)
        })
      )
    }))

  it.effect("a snoozed job waits out its snooze, then runs", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "snooze.job", payload: Payload, queue: F.queue() })
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const handler = JobDefinition.handle(Def, () =>
        Effect.flatMap(recordStart(starts), (before) => (before === 0 ? Verdict.snooze("1500 millis") : Effect.void)))
      yield* withWorker(
        { handlers: [handler], keepCompleted: true },
        Effect.gen(function*() {
          const { id } = yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
          const snoozed = Option.getOrThrow(
            yield* eventually(jobRow(id), (row) => Option.isSome(row) && row.value.errorHistory.length === 1)
          )
          const [entry] = snoozed.errorHistory
          assert(entry?.kind === "snoozed", "the first run snoozed")
          assert.strictEqual(snoozed.runAt.getTime() - entry.at.getTime(), 1500)
          yield* waitsThenRuns(id, snoozed.runAt, starts, 1)
        })
      )
    }))

  it.effect("a job failed with RetryAt waits for that time, then runs", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "retry.at.job", payload: Payload, queue: F.queue() })
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const asked = yield* Deferred.make<Date>()
      const handler = JobDefinition.handle(Def, () =>
        Effect.flatMap(recordStart(starts), (before) => {
          if (before > 0) return Effect.void
          const at = new Date(Date.now() + 1500)
          return Effect.zipRight(Deferred.succeed(asked, at), Verdict.retryAt(at, "maintenance window"))
        }))
      yield* withWorker(
        { handlers: [handler], keepCompleted: true },
        Effect.gen(function*() {
          const { id } = yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant() })
          const at = yield* Deferred.await(asked)
          const failed = Option.getOrThrow(
            yield* eventually(jobRow(id), (row) => Option.isSome(row) && row.value.errorHistory.length === 1)
          )
          assert.strictEqual(failed.runAt.getTime(), at.getTime(), "run_at is the time the verdict asked for")
          yield* waitsThenRuns(id, failed.runAt, starts, 1)
        })
      )
    }))

  it.effect("a job enqueued with a later runAt waits until then while the worker polls, then runs", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({ name: "scheduled.job", payload: Payload, queue: F.queue() })
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const handler = JobDefinition.handle(Def, () => recordStart(starts))
      yield* withWorker(
        { handlers: [handler], keepCompleted: true },
        Effect.gen(function*() {
          // Enqueued while the worker runs: the enqueue's wake-up must not make it due either.
          const runAt = new Date(Date.now() + 1500)
          const { id } = yield* Enqueue.one(Def, { n: 1 }, { tenantId: F.tenant(), runAt })
          const row = Option.getOrThrow(yield* jobRow(id))
          assert.strictEqual(row.runAt.getTime(), runAt.getTime())
          assert.strictEqual(row.attempt, 0)
          yield* waitsThenRuns(id, runAt, starts, 0)
        })
      )
    }))
})
