/**
 * Persisted JobEntity commands sent while their owner dies (issue 14): 3 cluster runners share
 * JobEntity's shards; runner A sends one Replay per dead letter, all at once, and runner B (owner
 * of about a third of them) is SIGKILLed while it is handling its share. Every Replay is answered
 * at A, without an error, once B's shards move; each dead letter is replayed into exactly one job;
 * and what B had started but not finished was handled again by a survivor.
 *
 * Replays are slowed in the runners (RUNNER_REPLAY_DELAY_MS: a random pause after a command is
 * logged and another after the replay is applied), so the kill catches commands in both windows:
 * logged but not applied, and applied but not answered. The second kind is the one that could
 * turn into a duplicate job; its redelivery must come back `created: false` with the same job.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Fiber, Schedule, Schema } from "effect"
import { type Runner, spawnRunner } from "../clusterFixtures.js"
import { replayCounts, seedDeadLetters, stampsMatchJobs, unreplayed } from "../replayFixtures.js"

const deadLetters = 300
const replayDelayMs = 4000

const Reply = Schema.Struct({
  dlq: Schema.Number,
  ok: Schema.Boolean,
  result: Schema.optional(Schema.Struct({ jobId: Schema.Number, created: Schema.Boolean })),
  error: Schema.optional(Schema.String),
  at: Schema.Number
})
const decodeReplies = Schema.decodeUnknown(Schema.Struct({ replies: Schema.Array(Reply) }))
const decodeOwned = Schema.decodeUnknown(Schema.Struct({ owned: Schema.Array(Schema.String) }))

/** Which runner holds each dead letter's entity, once the three agree (every id owned exactly once). */
const owners = (runners: ReadonlyArray<Runner>, ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const entities = ids.map((id) => `dlq:${id}`)
    const sets = yield* Effect.forEach(runners, (r) =>
      Effect.flatMap(r.ask({ op: "owned", entities }), decodeOwned).pipe(Effect.map((o) => new Set(o.owned))))
    const split = entities.map((e) => sets.filter((s) => s.has(e)).length)
    if (split.some((n) => n !== 1) || sets.some((s) => s.size === 0)) {
      return yield* Effect.fail(new Error(`shards not settled: ${sets.map((s) => s.size).join("/")} of ${ids.length}`))
    }
    return sets
  }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 120 }))

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("fault suite: an entity owner dies mid-command", (it) => {
  it.scoped(`${deadLetters} persisted Replays in flight while their owner is SIGKILLed: each answered, each applied once`, () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const info = yield* TestDatabase.TestDatabaseInfo
      yield* sql`create table handled_log (entity_id text not null, request_id text not null, pid int not null,
        at timestamptz not null default clock_timestamp())`
      const ids = yield* seedDeadLetters({ queue: "entity-failover", count: deadLetters })
      const env = { RUNNER_REPLAY_DELAY_MS: String(replayDelayMs) }
      // A first: it creates the cluster tables; B and C then join and take their shares.
      const a = yield* spawnRunner(info.url, env)
      const b = yield* spawnRunner(info.url, env)
      const c = yield* spawnRunner(info.url, env)
      const [ownedByA, ownedByB, ownedByC] = yield* owners([a, b, c], ids).pipe(
        Effect.tapError(() => Effect.sync(() => [a, b, c].forEach((r) => console.log(`runner ${r.pid}:\n${r.output().split("\n").filter((l) => !l.startsWith("REPLY ")).join("\n").slice(-6000)}`))))
      )
      console.log(`entity owners: A ${ownedByA!.size}, B ${ownedByB!.size}, C ${ownedByC!.size} of ${ids.length}`)

      const sending = yield* Effect.fork(a.ask({ op: "replayMany", dlqs: ids, prefix: "failover" }, 120_000))
      // Kill B once it has started a good part of its share: the random pauses spread the rest
      // over both windows (before the replay is applied, and after it but before the reply).
      const startedOnB = sql<{ n: string }>`select count(*) as n from handled_log where pid = ${b.pid}`.pipe(
        Effect.map((r) => Number(r[0]!.n))
      )
      yield* startedOnB.pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (n) => n >= ownedByB!.size / 2 }),
        Effect.timeout("60 seconds")
      )
      const killedAt = Date.now()
      b.kill("SIGKILL")
      assert.strictEqual(yield* b.exited, "SIGKILL")

      const answered = yield* Fiber.join(sending).pipe(Effect.flatMap(decodeReplies))
      const lastReplyMs = Math.max(...answered.replies.map((r) => r.at)) - killedAt
      const failed = answered.replies.filter((r) => !r.ok)
      assert.deepStrictEqual(failed, [], "every Replay is answered without an error")
      assert.strictEqual(answered.replies.length, ids.length)
      assert.isBelow(lastReplyMs, 60_000)

      // Nothing arrives late either: give a straggling redelivery time to show up.
      yield* Effect.sleep("2 seconds")
      const counts = yield* replayCounts(ids)
      const notOnce = ids.filter((id) => counts.get(id) !== 1)
      assert.deepStrictEqual(notOnce, [], "each dead letter is replayed into exactly one job")
      assert.strictEqual(yield* unreplayed(ids), 0)
      assert.strictEqual(yield* stampsMatchJobs(ids), ids.length)
      // The reply names the job the dead letter was replayed into, whoever applied it.
      const jobs = yield* sql<{ replayOf: string; id: string }>`
        select replay_of, id from redrive.job where replay_of = any(${ids}::bigint[])`
      const jobOf = new Map(jobs.map((j) => [Number(j.replayOf), Number(j.id)]))
      assert.deepStrictEqual(answered.replies.filter((r) => r.result?.jobId !== jobOf.get(r.dlq)).map((r) => r.dlq), [])

      // What B started: logged by its pid; what it finished: its FINISHED lines (stdout is a pipe,
      // written synchronously, so what it printed before the kill is in its output).
      const log = yield* sql<{ requestId: string; pid: number; atMs: number }>`
        select request_id, pid, (extract(epoch from at) * 1000)::float8 as at_ms from handled_log`
      const finishedOnB = new Set(
        b.output().split("\n").filter((l) => l.startsWith("FINISHED ")).map((l) => l.slice("FINISHED ".length))
      )
      const startedByB = new Set(log.filter((r) => r.pid === b.pid).map((r) => r.requestId))
      const inFlight = [...startedByB].filter((id) => !finishedOnB.has(id))
      const survivorRuns = new Map<string, number>()
      for (const r of log.filter((r) => r.pid !== b.pid)) {
        survivorRuns.set(r.requestId, (survivorRuns.get(r.requestId) ?? 0) + 1)
      }
      const handledTwice = [...startedByB].filter((id) => survivorRuns.has(id))
      assert.isAbove(inFlight.length, 0, "the kill caught B with commands in flight")
      // The failover proper: the first of B's commands to start again elsewhere (same machine clock).
      const firstRerunMs = Math.min(
        ...log.filter((r) => r.pid !== b.pid && startedByB.has(r.requestId)).map((r) => r.atMs)
      ) - killedAt
      assert.deepStrictEqual(inFlight.filter((id) => !survivorRuns.has(id)), [], "B's unfinished commands ran again on a survivor")
      assert.deepStrictEqual([...survivorRuns].filter(([, n]) => n > 1), [], "no survivor ran a command twice")
      // Every command was handled somewhere; only B's unanswered ones twice.
      assert.strictEqual(new Set(log.map((r) => r.requestId)).size, ids.length)

      // Redelivered after B had applied it: the survivor found the job and did not make another.
      const byDlq = new Map(answered.replies.map((r) => [`failover-${r.dlq}`, r]))
      const appliedByB = handledTwice.filter((id) => byDlq.get(id)?.result?.created === false)
      const createdFalseElsewhere = answered.replies.filter((r) =>
        r.result?.created === false && !handledTwice.includes(`failover-${r.dlq}`)
      )
      assert.deepStrictEqual(createdFalseElsewhere.map((r) => r.dlq), [], "a dead letter handled once was created by that run")

      console.log(
        `fault suite entity failover: ${ids.length} replays sent (B owned ${ownedByB!.size}), ` +
          `${startedByB.size} started on the killed owner, ${inFlight.length} in flight at the kill, ` +
          `${handledTwice.length} handled twice (${appliedByB.length} of them already applied by the killed owner, ` +
          `answered created=false), duplicates 0, errors 0, kill -> first rerun on a survivor ${Math.round(firstRerunMs)} ms, ` +
          `kill -> last reply ${lastReplyMs} ms`
      )
    }), 240_000)
})
