/**
 * Webhook delivery against a real local endpoint: signed per Standard Webhooks (verified by the
 * `standardwebhooks` package, unchanged), retried with backoff with every try recorded, and a
 * hanging endpoint cut by the timeout.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Schema } from "effect"
import { Webhook as Receiver } from "standardwebhooks"
import * as Dispatcher from "../../src/alerts/Dispatcher.js"
import * as Webhook from "../../src/alerts/Webhook.js"
import * as Enqueue from "../../src/Enqueue.js"
import * as JobDefinition from "../../src/JobDefinition.js"
import { eventually, withWorker } from "../workerFixtures.js"
import { attemptsOf, captureLogs, channel, deliveryOf, endpoint, makeDue, newSecret, outbox } from "./alertFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })

const fast = { backoff: "10 millis", maxBackoff: "10 millis", timeout: "2 seconds" } as const

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("webhook alerts", (it) => {
  it.scoped("a dead letter reaches the webhook signed so that standardwebhooks verifies it; tampering and old timestamps fail", () =>
    Effect.gen(function*() {
      const secret = newSecret()
      const hook = yield* endpoint()
      const tenantId = Factory.tenant()
      yield* channel({ tenantId, url: hook.url, secret, events: ["job.dead_lettered"] })
      const Def = JobDefinition.make({ name: Factory.unique("hooked"), queue: Factory.queue(), payload: Payload, retry: { maxAttempts: 1 } })
      const { id } = yield* Enqueue.one(Def, { n: 1 }, { tenantId })
      // The worker dead-letters it; the elected maintenance process (this one) delivers the alert.
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, () => Effect.fail(new Error("card declined")))],
          maintenance: { electionInterval: "100 millis", alerts: { dispatcher: { interval: "50 millis" } } }
        },
        // Received, and the try recorded (the worker's scope must not close between the two).
        eventually(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql<{ n: number }>`select count(*)::int as n from redrive.alert_delivery
              where tenant_id = ${tenantId} and state = 'delivered'`),
          (rows) => hook.received.length >= 1 && rows[0]?.n === 1
        )
      )
      const [request] = hook.received
      const headers = {
        "webhook-id": String(request!.headers["webhook-id"]),
        "webhook-timestamp": String(request!.headers["webhook-timestamp"]),
        "webhook-signature": String(request!.headers["webhook-signature"])
      }
      const verified = new Receiver(secret).verify(request!.body, headers) as {
        type: string
        data: Record<string, unknown>
      }
      assert.strictEqual(verified.type, "job.dead_lettered")
      assert.deepInclude(verified.data, { jobId: id, tenantId, queue: Def.queue, type: Def.name, attempts: 1 })
      assert.match(headers["webhook-signature"], /^v1,[A-Za-z0-9+/]+=*$/)

      // A body changed in transit, or another secret: refused.
      const tampered = request!.body.replace("card declined", "card accepted")
      assert.notStrictEqual(tampered, request!.body)
      assert.throws(() => new Receiver(secret).verify(tampered, headers))
      assert.throws(() => new Receiver(newSecret()).verify(request!.body, headers))
      // Correctly signed, but 10 minutes old (a replayed capture): refused for its timestamp.
      const alert = { id: "1", event: "job.dead_lettered", tenantId, payload: { jobId: id }, at: new Date(), digest: null }
      const old = Webhook.request(secret, alert, new Date(Date.now() - 10 * 60_000))
      assert.throws(() => new Receiver(secret).verify(old.body, old.headers), /too old/i)
      const fresh = Webhook.request(secret, alert, new Date())
      assert.doesNotThrow(() => new Receiver(secret).verify(fresh.body, fresh.headers))

      const sql = yield* SqlClient.SqlClient
      const [delivery] = yield* sql<{ id: string; state: string; attempts: number; lastStatus: number }>`
        select id, state, attempts, last_status from redrive.alert_delivery where tenant_id = ${tenantId}`
      assert.deepInclude(delivery, { state: "delivered", attempts: 1, lastStatus: 200 })
      assert.strictEqual(headers["webhook-id"], `msg_${delivery!.id}`)
      const tries = yield* attemptsOf(Number(delivery!.id))
      assert.deepStrictEqual(tries.map((t) => [t.attempt, t.outcome, t.statusCode]), [[1, "delivered", 200]])
    }))

  it.scoped("an endpoint that is down, then failing, then up: delivered later, with every try recorded", () =>
    Effect.gen(function*() {
      const secret = newSecret()
      // Try 1: the connection drops; tries 2 and 3: 503; try 4: 200.
      const hook = yield* endpoint((n) => (n === 0 ? "drop" : n < 3 ? 503 : 200))
      const tenantId = Factory.tenant()
      const channelId = yield* channel({ tenantId, url: hook.url, secret })
      const id = yield* outbox({ channelId, tenantId })
      // The dispatcher task's warnings: one line per failing channel per minute, not one per try.
      const warn = Dispatcher.channelWarnings()
      const { lines } = yield* captureLogs(Effect.gen(function*() {
        for (let pass = 0; pass < 4; pass++) {
          yield* makeDue(channelId)
          yield* Dispatcher.runOnce(fast, warn)
        }
      }))
      const warnings = lines.filter((l) => l.includes("is failing"))
      assert.strictEqual(warnings.length, 1, lines.join("\n"))
      assert.include(warnings[0]!, "is failing: 1 failed")
      const tries = yield* attemptsOf(id)
      assert.deepStrictEqual(tries.map((t) => [t.attempt, t.outcome, t.statusCode]), [
        [1, "failed", null],
        [2, "failed", 503],
        [3, "failed", 503],
        [4, "delivered", 200]
      ])
      assert.match(tries[0]!.error ?? "", /fetch failed|socket|closed|reset/i)
      assert.match(tries[1]!.error ?? "", /HTTP 503/)
      assert.isTrue(tries.every((t) => t.durationMs >= 0))
      assert.deepInclude(yield* deliveryOf(id), { state: "delivered", attempts: 4, lastStatus: 200, lastError: null })
      assert.strictEqual(hook.received.length, 4)
      // Every try carried the same message id (receivers deduplicate on it).
      assert.deepStrictEqual([...new Set(hook.received.map((r) => r.headers["webhook-id"]))], [`msg_${id}`])
    }))

  it.scoped("a delivery that never gets through is failed after maxAttempts tries, waiting longer each time", () =>
    Effect.gen(function*() {
      const hook = yield* endpoint(() => 500)
      const tenantId = Factory.tenant()
      const channelId = yield* channel({ tenantId, url: hook.url, secret: newSecret() })
      const id = yield* outbox({ channelId, tenantId })
      const sql = yield* SqlClient.SqlClient
      const waits: Array<number> = []
      for (let pass = 0; pass < 3; pass++) {
        yield* Dispatcher.runOnce({ maxAttempts: 3, backoff: "1 minute", maxBackoff: "1 hour" })
        const [row] = yield* sql<{ waitS: number; state: string }>`
          select extract(epoch from next_attempt_at - now())::float8 as wait_s, state from redrive.alert_delivery where id = ${id}`
        if (row!.state === "pending") waits.push(row!.waitS)
        yield* makeDue(channelId)
      }
      // 1 min after the first failure, 2 min after the second; then out of tries.
      assert.strictEqual(waits.length, 2)
      assert.approximately(waits[0]!, 60, 5)
      assert.approximately(waits[1]!, 120, 5)
      assert.deepInclude(yield* deliveryOf(id), { state: "failed", attempts: 3, lastStatus: 500 })
      assert.deepStrictEqual((yield* attemptsOf(id)).map((t) => t.outcome), ["failed", "failed", "failed"])
      // Failed stays failed: no further pass sends it.
      yield* Dispatcher.runOnce({ maxAttempts: 3 })
      assert.strictEqual(hook.received.length, 3)
    }))

  it.scoped("a hanging endpoint is cut by the timeout and the try recorded as a timeout", () =>
    Effect.gen(function*() {
      const hook = yield* endpoint(() => "hang")
      const tenantId = Factory.tenant()
      const channelId = yield* channel({ tenantId, url: hook.url, secret: newSecret() })
      const id = yield* outbox({ channelId, tenantId })
      const pass = yield* Dispatcher.runOnce({ timeout: "300 millis", maxAttempts: 1 })
      assert.strictEqual(pass.timedOut, 1)
      const [t] = yield* attemptsOf(id)
      assert.deepInclude(t, { attempt: 1, outcome: "timeout", statusCode: null })
      assert.isAtLeast(t!.durationMs, 250)
      assert.isBelow(t!.durationMs, 5_000)
      assert.deepInclude(yield* deliveryOf(id), { state: "failed", attempts: 1 })
      assert.strictEqual(hook.received.length, 1)
    }))

  it.scoped("a claimed delivery is leased: a second dispatcher does not send it again meanwhile", () =>
    Effect.gen(function*() {
      const hook = yield* endpoint(() => "hang")
      const tenantId = Factory.tenant()
      const channelId = yield* channel({ tenantId, url: hook.url, secret: newSecret() })
      const id = yield* outbox({ channelId, tenantId })
      // Two leaders for a moment (a handover): both pass at once; the endpoint sees one request.
      const [a, b] = yield* Effect.all([
        Dispatcher.runOnce({ timeout: "500 millis", maxAttempts: 1 }),
        Effect.zipRight(Effect.sleep("100 millis"), Dispatcher.runOnce({ timeout: "500 millis", maxAttempts: 1 }))
      ], { concurrency: 2 })
      assert.strictEqual(a.sent + b.sent, 1)
      assert.strictEqual(hook.received.length, 1)
      assert.strictEqual((yield* attemptsOf(id)).length, 1)
      assert.strictEqual(channelId > 0, true)
    }))
})
