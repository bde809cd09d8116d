/**
 * The rescuer dead-letters through the same path as the worker's settle: failure_stat counts,
 * the alert outbox row and the fingerprint are the ones a settled dead letter gets.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Data, Effect, Schema } from "effect"
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
      const [settledId] = yield* Enqueue.many(Def, [{ n: 1 }], { tenantId })
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
})
