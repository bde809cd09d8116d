/**
 * Storm coalescing: 2,000 dead letters of one queue within a minute reach each channel (a
 * webhook, a Slack incoming webhook) as a handful of messages, every delivery accounted for by
 * the message that carried it (`sent_in`).
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Schema } from "effect"
import { Webhook as Receiver } from "standardwebhooks"
import * as Dispatcher from "../../src/alerts/Dispatcher.js"
import * as Enqueue from "../../src/Enqueue.js"
import * as JobDefinition from "../../src/JobDefinition.js"
import { count, eventually, withWorker } from "../workerFixtures.js"
import { channel, endpoint, newSecret, outbox } from "./alertFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })

const SlackMessage = Schema.Struct({
  text: Schema.String,
  blocks: Schema.Array(Schema.Struct({ type: Schema.String }))
})
const WebhookBody = Schema.Struct({
  type: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  digest: Schema.optional(Schema.Struct({ count: Schema.Int, coalesceKey: Schema.String }))
})

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("alert digests", (it) => {
  it.scoped("2,000 dead letters of one queue in a minute become a handful of messages per channel", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const secret = newSecret()
      const hook = yield* endpoint()
      const slack = yield* endpoint()
      const tenantId = Factory.tenant()
      const webhookChannel = yield* channel({ tenantId, url: hook.url, secret, digestWindowS: 10, events: ["job.dead_lettered"] })
      const slackChannel = yield* channel({ tenantId, kind: "slack", url: slack.url, digestWindowS: 10, events: ["job.dead_lettered"] })
      const Def = JobDefinition.make({ name: Factory.unique("storm"), queue: Factory.queue(), payload: Payload, retry: { maxAttempts: 1 } })
      yield* Enqueue.many(Def, Array.from({ length: 2_000 }, (_, n) => ({ n })), { tenantId })
      const settled = (channelId: number) =>
        count(`redrive.alert_delivery where channel_id = ${channelId} and state in ('delivered', 'failed')`)
      yield* withWorker(
        {
          handlers: [JobDefinition.handle(Def, () => Effect.fail(new Error("storm")))],
          concurrency: 50,
          maintenance: { electionInterval: "100 millis", alerts: { dispatcher: { interval: "100 millis" } } }
        },
        eventually(
          Effect.zipWith(settled(webhookChannel), settled(slackChannel), (a, b) => a + b),
          (n) => n === 4_000,
          "60 seconds"
        ).pipe(Effect.tapError(() =>
          Effect.flatMap(
            sql`select channel_id, state, count(*), min(next_attempt_at), max(next_attempt_at), now() from redrive.alert_delivery group by 1, 2`,
            (rows) => Effect.sync(() => console.log("digest stall", rows, hook.received.length, slack.received.length))
          )
        ))
      )
      const webhookMessages = hook.received.map((r) => {
        new Receiver(secret).verify(r.body, {
          "webhook-id": String(r.headers["webhook-id"]),
          "webhook-timestamp": String(r.headers["webhook-timestamp"]),
          "webhook-signature": String(r.headers["webhook-signature"])
        })
        return Schema.decodeUnknownSync(Schema.parseJson(WebhookBody))(r.body)
      })
      const slackMessages = slack.received.map((r) => Schema.decodeUnknownSync(Schema.parseJson(SlackMessage))(r.body))
      assert.isAtMost(webhookMessages.length, 5, `webhook messages: ${webhookMessages.length}`)
      assert.isAtMost(slackMessages.length, 5, `slack messages: ${slackMessages.length}`)
      // Every dead letter is in exactly one message.
      assert.strictEqual(webhookMessages.reduce((n, m) => n + (m.digest?.count ?? 1), 0), 2_000)
      assert.isTrue(webhookMessages.every((m) => m.type === "job.dead_lettered"))
      assert.isTrue(webhookMessages.some((m) => (m.digest?.count ?? 1) > 100), "no digest carried the storm")
      for (const m of slackMessages) assert.deepStrictEqual(m.blocks.map((b) => b.type), ["header", "section", "context"])
      assert.isTrue(slackMessages.some((m) => /\d+ × job\.dead_lettered .*\(digest\)/.test(m.text)))

      // The sent rows and the rows they carried: linked by sent_in, all delivered.
      const rows = yield* sql<{ channelId: string; sent: number; carried: number; delivered: number }>`
        select channel_id, count(*) filter (where sent_in is null)::int as sent,
               count(*) filter (where sent_in is not null)::int as carried,
               count(*) filter (where state = 'delivered')::int as delivered
        from redrive.alert_delivery where channel_id in (${webhookChannel}, ${slackChannel})
        group by channel_id order by channel_id`
      assert.deepStrictEqual(rows.map((r) => [Number(r.channelId), r.sent, r.carried, r.delivered]), [
        [webhookChannel, webhookMessages.length, 2_000 - webhookMessages.length, 2_000],
        [slackChannel, slackMessages.length, 2_000 - slackMessages.length, 2_000]
      ])
      const [orphans] = yield* sql<{ n: number }>`
        select count(*)::int as n from redrive.alert_delivery c
        where c.channel_id = ${webhookChannel} and c.sent_in is not null
          and not exists (select 1 from redrive.alert_delivery s where s.id = c.sent_in and s.sent_in is null)`
      assert.strictEqual(orphans!.n, 0)
    }), 90_000)

  it.scoped("deliveries of another key, or without a key, are not coalesced", () =>
    Effect.gen(function*() {
      const hook = yield* endpoint()
      const tenantId = Factory.tenant()
      const channelId = yield* channel({ tenantId, url: hook.url, secret: newSecret() })
      for (const key of ["a", "a", "b", null, null]) yield* outbox({ channelId, tenantId, coalesceKey: key })
      const pass = yield* Dispatcher.runOnce()
      // a (with its twin), b, and the two without a key.
      assert.strictEqual(pass.sent, 4)
      assert.strictEqual(pass.carried, 1)
      assert.strictEqual(hook.received.length, 4)
      // A channel without a digest window sends each one.
      const plain = yield* channel({ tenantId, url: hook.url, secret: newSecret(), digestWindowS: 0 })
      for (const key of ["a", "a", "a"]) yield* outbox({ channelId: plain, tenantId, coalesceKey: key })
      const again = yield* Dispatcher.runOnce()
      assert.deepStrictEqual([again.sent, again.carried], [3, 0])
    }))
})
