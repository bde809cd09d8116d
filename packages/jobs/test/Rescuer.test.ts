/**
 * The rescuer dead-letters through the same path as the worker's settle: failure_stat counts,
 * the alert outbox row and the fingerprint are the ones a settled dead letter gets.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Data, Effect, Logger, Schema } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Rescuer from "../src/Rescuer.js"
import { count, eventually, withWorker } from "./workerFixtures.js"

class LeaseExpired extends Data.TaggedError("LeaseExpired")<{ readonly message: string }> {}

const rescueMessage = "lease expired: the worker stopped or stalled without settling the job"

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("rescuer", (it) => {
  it.effect("a dead letter made by the rescuer is counted, alerted and fingerprinted like a settled one", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const type = Factory.jobType()
      yield* sql`insert into redrive.alert_channel (tenant_id, name, kind, url) values (${tenantId}, 'hook', 'webhook', 'https://example.com/h')`
      // A job on its last attempt whose worker died: its lease ran out a second ago.
      const job = yield* Factory.insertJob({
        tenantId,
        queue,
        type,
        maxAttempts: 3,
        ...Factory.abandoned("dead-worker", 3)
      })
      const result = yield* Rescuer.rescueOnce()
      assert.isAtLeast(result.deadLettered, 1)
      const [rescued] = yield* sql<{ id: string; errorClass: string; fingerprint: string; attempts: number }>`
        select id, error_class, fingerprint, attempts from redrive.job_dlq where job_id = ${job.id}`
      assert.strictEqual(rescued!.errorClass, "timeout")
      assert.strictEqual(rescued!.attempts, 3)
      const [stat] = yield* sql<{ failures: number; deadLettered: number }>`
        select failures, dead_lettered from redrive.failure_stat
        where tenant_id = ${tenantId} and queue = ${queue} and error_class = 'timeout'`
      assert.deepStrictEqual(stat, { failures: 1, deadLettered: 1 })
      const alerts = yield* sql<{ event: string; dlqId: number }>`
        select event, (payload->>'dlqId')::bigint as dlq_id from redrive.alert_delivery where tenant_id = ${tenantId}`
      assert.deepStrictEqual(alerts.map((a) => [a.event, Number(a.dlqId)]), [["job.dead_lettered", Number(rescued!.id)]])

      // The same error settled by a worker (same type, class, tag, message) gets the same fingerprint.
      const Def = JobDefinition.make({
        name: type,
        queue,
        payload: Schema.Struct({ n: Schema.Number }),
        retry: { maxAttempts: 1 },
        classify: (e) => (e instanceof LeaseExpired ? "timeout" : undefined)
      })
      const [settledId] = Enqueue.ids(yield* Enqueue.many(Def, [{ n: 1 }], { tenantId }))
      yield* withWorker(
        { handlers: [JobDefinition.handle(Def, () => Effect.fail(new LeaseExpired({ message: rescueMessage })))] },
        eventually(count(`redrive.job_dlq where job_id = ${settledId}`), (n) => n === 1)
      )
      const [settled] = yield* sql<{ fingerprint: string }>`select fingerprint from redrive.job_dlq where job_id = ${settledId}`
      assert.strictEqual(settled!.fingerprint, rescued!.fingerprint)
      const [again] = yield* sql<{ deadLettered: number }>`
        select sum(dead_lettered)::int as dead_lettered from redrive.failure_stat
        where tenant_id = ${tenantId} and queue = ${queue}`
      assert.strictEqual(again!.deadLettered, 2)
      assert.strictEqual(yield* count(`redrive.alert_delivery where tenant_id = '${tenantId}'`), 2)
    }))

  it.effect("a rescued job is back with a `rescued` entry and counted as a timeout failure", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const job = yield* Factory.insertJob({
        tenantId,
        maxAttempts: 3,
        ...Factory.abandoned("stalled-worker", 1)
      })
      yield* Rescuer.rescueOnce()
      const [back] = yield* sql<{ state: string; attempt: number; history: ReadonlyArray<Record<string, unknown>> }>`
        select state, attempt, error_history as history from redrive.job where id = ${job.id}`
      assert.strictEqual(back!.state, "available")
      assert.strictEqual(back!.attempt, 1)
      assert.strictEqual(back!.history[0]!["kind"], "rescued")
      assert.strictEqual(back!.history[0]!["workerId"], "stalled-worker")
      const [stat] = yield* sql<{ failures: number; deadLettered: number }>`
        select failures, dead_lettered from redrive.failure_stat where tenant_id = ${tenantId}`
      assert.deepStrictEqual(stat, { failures: 1, deadLettered: 0 })
    }))

  it.effect("a rescued job on its last attempt is never lost to a dead letter that is already there", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const owner = Factory.tenant()
      const attacker = Factory.tenant()
      const expiredOnLastAttempt = { state: "running", attempt: 3, maxAttempts: 3, lockedBy: "dead-worker",
        lockedUntil: new Date(Date.now() - 1000) } as const
      const victim = yield* Factory.insertJob({ tenantId: owner, ...expiredOnLastAttempt })
      const selfBlocked = yield* Factory.insertJob({ tenantId: owner, ...expiredOnLastAttempt })
      // Another tenant's row under the victim's id (the attack, simulated as the owner), and a row
      // under the other job's own (tenant, id).
      yield* Factory.insertDeadLetter({ tenantId: attacker, jobId: victim.id })
      const existing = yield* Factory.insertDeadLetter({ tenantId: owner, jobId: selfBlocked.id })
      const logged: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Error") logged.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const result = yield* Rescuer.rescueOnce().pipe(Effect.provide(Logger.add(capture)))
      assert.isAtLeast(result.blocked, 1)

      // The victim is dead-lettered under its own tenant; the attacker's row is left as it was.
      const mine = yield* sql<{ errorClass: string }>`
        select error_class from redrive.job_dlq where job_id = ${victim.id} and tenant_id = ${owner}`
      assert.deepStrictEqual(mine.map((r) => r.errorClass), ["timeout"])
      assert.strictEqual(yield* count(`redrive.job where id = ${victim.id}`), 0)
      assert.strictEqual(yield* count(`redrive.job_dlq where job_id = ${victim.id} and tenant_id = '${attacker}'`), 1)

      // The other stays in job, out of the rescuer's way, with its timeout entry; an error is logged.
      const [kept] = yield* sql<{ state: string; lockedUntil: Date | null; errorHistory: unknown }>`
        select state, locked_until, error_history from redrive.job where id = ${selfBlocked.id}`
      assert.deepInclude(kept, { state: "dead_letter_conflict", lockedUntil: null })
      const last = Schema.decodeUnknownSync(ErrorHistory.ErrorHistory)(kept!.errorHistory).at(-1)
      assert.deepInclude(last, { kind: "rescued", errorClass: "timeout" })
      const dlq = yield* sql<{ id: string }>`select id from redrive.job_dlq where job_id = ${selfBlocked.id}`
      assert.deepStrictEqual(dlq.map((r) => Number(r.id)), [existing.id])
      assert.isTrue(logged.some((m) => m.includes("could not be dead-lettered")))
      // A second pass leaves it alone.
      yield* Rescuer.rescueOnce()
      assert.strictEqual(yield* count(`redrive.job where id = ${selfBlocked.id} and state = 'dead_letter_conflict'`), 1)
    }))
})
