/**
 * AlertChannels on real Postgres: channels of each kind created, validated field by field, read
 * without their secret, updated (a rotated secret signs the next real delivery), removed, audited;
 * deliveries paged by keyset with their tries; a test alert delivered by the dispatcher to a real
 * local endpoint; and a tenant block that sees and changes its own channels only.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Input, Tenant } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Exit, Layer } from "effect"
import { Webhook as Receiver } from "standardwebhooks"
import * as AlertChannelsModule from "../../src/alerts/AlertChannels.js"
import { AlertChannels, type CreateChannelInput } from "../../src/alerts/AlertChannels.js"
import * as Dispatcher from "../../src/alerts/Dispatcher.js"
import { captureLogs, endpoint, makeDue, newSecret, outbox } from "./alertFixtures.js"

const TestLayer = AlertChannelsModule.layer.pipe(Layer.provideMerge(TestDatabase.layer))

const fast = { backoff: "10 millis", maxBackoff: "10 millis", timeout: "2 seconds" } as const

/** The InvalidInput a failed effect ended with (the test fails if it ended otherwise). */
const invalidField = <A, E, R>(effect: Effect.Effect<A, E | Input.InvalidInput, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, Input.InvalidInput, JSON.stringify(error))
    return (error as Input.InvalidInput)
  })

const auditOf = (channelId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ action: string; fields: ReadonlyArray<string>; by: string; tenantId: string | null }>`
      select action, fields, by, tenant_id from redrive.alert_channel_event where channel_id = ${channelId} order by id`)

const verify = (secret: string, received: { readonly headers: Record<string, unknown>; readonly body: string }) =>
  new Receiver(secret).verify(received.body, {
    "webhook-id": String(received.headers["webhook-id"]),
    "webhook-timestamp": String(received.headers["webhook-timestamp"]),
    "webhook-signature": String(received.headers["webhook-signature"])
  }) as { type: string; summary: string; data: Record<string, unknown> }

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("AlertChannels", (it) => {
  it.scoped("creates a webhook, a Slack and an email channel; get and list return every field but the secret", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const tenantId = Factory.tenant()
      const secret = newSecret()
      const webhook = yield* channels.create({
        name: Factory.unique("hook"),
        kind: "webhook",
        url: "https://hooks.example.com/redrive",
        secret,
        tenantId,
        events: ["job.dead_lettered", "job.failing", "job.dead_lettered"],
        errorClasses: ["external_api", "timeout"],
        minPriority: 3,
        failingAfter: 7,
        failingWindowS: 600,
        dlqThreshold: 100,
        digestWindowS: 30,
        by: "alice"
      })
      assert.deepInclude(webhook, {
        tenantId,
        kind: "webhook",
        url: "https://hooks.example.com/redrive",
        hasSecret: true,
        events: ["job.dead_lettered", "job.failing"],
        errorClasses: ["external_api", "timeout"],
        minPriority: 3,
        recipients: [],
        sender: null,
        failingAfter: 7,
        failingWindowS: 600,
        dlqThreshold: 100,
        digestWindowS: 30,
        enabled: true
      })
      assert.isFalse("secret" in webhook)
      assert.instanceOf(webhook.createdAt, Date)

      const slack = yield* channels.create({
        name: Factory.unique("slack"),
        kind: "slack",
        url: "https://hooks.slack.com/services/T000/B000/xyz",
        tenantId,
        by: "alice"
      })
      // The table's defaults, for what was not given.
      assert.deepInclude(slack, {
        kind: "slack",
        hasSecret: false,
        events: [],
        errorClasses: [],
        minPriority: 10,
        failingAfter: 5,
        failingWindowS: 300,
        dlqThreshold: null,
        digestWindowS: 60,
        enabled: true
      })
      const email = yield* channels.create({
        name: Factory.unique("mail"),
        kind: "email",
        url: "smtps://alerts@smtp.example.com:465",
        secret: "smtp-password-1",
        tenantId,
        recipients: ["oncall@example.com", "ops@example.com"],
        sender: "redrive@example.com",
        enabled: false,
        by: "bob"
      })
      assert.deepInclude(email, {
        kind: "email",
        hasSecret: true,
        recipients: ["oncall@example.com", "ops@example.com"],
        sender: "redrive@example.com",
        enabled: false
      })

      assert.deepStrictEqual(yield* channels.get(webhook.id), webhook)
      assert.deepStrictEqual(yield* channels.get(String(email.id)), email)
      const listed = yield* channels.list({ tenantId })
      assert.deepStrictEqual(listed, [webhook, slack, email])

      // Each creation audited: who, and the fields given (names, never values).
      const audit = yield* auditOf(webhook.id)
      assert.deepStrictEqual(audit.map((a) => [a.action, a.by, a.tenantId]), [["created", "alice", tenantId]])
      assert.includeMembers([...audit[0]!.fields], ["secret", "url", "events", "minPriority"])
      assert.deepStrictEqual((yield* auditOf(email.id)).map((a) => a.by), ["bob"])
    }))

  it.scoped("an SMTP URL written by SQL with a password in it is read back masked", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const [row] = yield* sql<{ id: string }>`
        insert into redrive.alert_channel (tenant_id, name, kind, url, recipients)
        values (${tenantId}, ${Factory.unique("legacy")}, 'email', 'smtp://alerts:hunter2-pw@mail.example.com:587',
                array['a@example.com'])
        returning id`
      const got = yield* channels.get(Number(row!.id))
      assert.strictEqual(got.url, "smtp://alerts:****@mail.example.com:587")
      const listed = yield* channels.list({ tenantId })
      assert.notInclude(JSON.stringify(listed), "hunter2-pw")
    }))

  it.scoped("bad input is refused naming the field, and nothing is written", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const hook = (over: Partial<Record<keyof CreateChannelInput, unknown>>) =>
        ({ name: Factory.unique("bad"), kind: "webhook", url: "https://x.example.com/h", secret: newSecret(), tenantId, by: "t", ...over }) as
          CreateChannelInput
      const mail = (over: Partial<Record<keyof CreateChannelInput, unknown>>) =>
        hook({ kind: "email", url: "smtp://u@mail.example.com", secret: undefined, recipients: ["a@example.com"], ...over })
      const cases: ReadonlyArray<readonly [CreateChannelInput, string]> = [
        [hook({ url: "ftp://x.example.com/h" }), "url"],
        [hook({ url: "not a url" }), "url"],
        [hook({ kind: "slack", url: "smtp://mail.example.com", secret: undefined }), "url"],
        [mail({ url: "https://mail.example.com" }), "url"],
        [mail({ url: "smtp://u:pw-in-url@mail.example.com" }), "url"],
        [mail({ recipients: [] }), "recipients"],
        [mail({ recipients: ["a@example.com", "not an address"] }), "recipients.1"],
        [mail({ sender: "nobody" }), "sender"],
        [mail({ url: "smtp://mail.example.com", secret: "pw" }), "secret"],
        [hook({ recipients: ["a@example.com"] }), "recipients"],
        [hook({ events: ["job.dead_lettered", "job.exploded"] }), "events.1"],
        [hook({ errorClasses: ["boom"] }), "errorClasses.0"],
        [hook({ minPriority: 11 }), "minPriority"],
        [hook({ minPriority: 0 }), "minPriority"],
        [hook({ failingWindowS: 5 }), "failingWindowS"],
        [hook({ digestWindowS: 7200 }), "digestWindowS"],
        [hook({ dlqThreshold: -1 }), "dlqThreshold"],
        [hook({ secret: undefined }), "secret"],
        [hook({ secret: "not-a-signing-key" }), "secret"],
        [hook({ kind: "slack", secret: "xoxb-token" }), "secret"],
        [hook({ kind: "teams" }), "kind"],
        [hook({ name: "  " }), "name"],
        [hook({ tenantId: "default" }), "tenantId"],
        [hook({ by: "" }), "by"],
        [{ ...hook({}), minPriorty: 3 } as CreateChannelInput, "minPriorty"]
      ]
      for (const [input, field] of cases) {
        const error = yield* invalidField(channels.create(input))
        assert.strictEqual(error.field, field, `${JSON.stringify({ ...input, secret: "…" })}: ${error.message}`)
        const [n] = yield* sql<{ n: number }>`select count(*)::int as n from redrive.alert_channel where name = ${input.name}`
        assert.strictEqual(n!.n, 0)
      }
      // A name is unique per tenant (and among global channels).
      const name = Factory.unique("taken")
      yield* channels.create(hook({ name }))
      assert.strictEqual((yield* invalidField(channels.create(hook({ name })))).field, "name")
      // Ids at the boundary.
      assert.strictEqual((yield* invalidField(channels.get("abc"))).field, "id")
      assert.strictEqual((yield* invalidField(channels.deliveries({ limit: 0 }))).field, "limit")
      assert.strictEqual((yield* invalidField(channels.deliveries({ event: "nope.nope" }))).field, "event")
    }))

  it.scoped("the secret is never returned, encoded, logged or quoted in an error", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const tenantId = Factory.tenant()
      const secret = newSecret()
      const rotated = newSecret()
      const { lines, result } = yield* captureLogs(Effect.gen(function*() {
        const created = yield* channels.create({
          name: Factory.unique("s"),
          kind: "webhook",
          url: "https://x.example.com/h",
          secret,
          tenantId,
          by: "t"
        })
        const updated = yield* channels.update(created.id, { secret: rotated, minPriority: 2, by: "t" })
        const got = yield* channels.get(created.id)
        const listed = yield* channels.list()
        const mail = yield* channels.create({
          name: Factory.unique("m"),
          kind: "email",
          url: "smtp://u@mail.example.com",
          secret: "smtp-pw-that-stays-hidden",
          recipients: ["a@example.com"],
          tenantId,
          by: "t"
        })
        // Refusals: a secret for a Slack channel, a secret that is no signing key.
        const refusals = [
          yield* Effect.flip(channels.create({ name: "x", kind: "slack", url: "https://s.example.com/x", secret, by: "t" })),
          yield* Effect.flip(channels.update(created.id, { secret: `${rotated}!`, by: "t" })),
          yield* Effect.flip(channels.update(mail.id, { url: "smtp://u:smtp-pw-that-stays-hidden@mail.example.com", by: "t" }))
        ]
        return { reads: [created, updated, got, listed, mail], refusals }
      }))
      assert.isTrue(result.reads.every((r) => !JSON.stringify(r).includes("secret\"")))
      const everything = [
        JSON.stringify(result.reads),
        JSON.stringify(result.refusals),
        result.refusals.map((e) => `${e.message} ${String(e)}`).join(" "),
        lines.join("\n")
      ].join("\n")
      for (const hidden of [secret, secret.slice(6), rotated, rotated.slice(6), "smtp-pw-that-stays-hidden"]) {
        assert.notInclude(everything, hidden)
      }
      assert.strictEqual(result.refusals.length, 3)
    }))

  it.scoped("a rotated secret signs the next delivery; the old one no longer verifies; updates are audited", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const hook = yield* endpoint()
      const tenantId = Factory.tenant()
      const first = newSecret()
      const second = newSecret()
      const channel = yield* channels.create({
        name: Factory.unique("rot"),
        kind: "webhook",
        url: hook.url,
        secret: first,
        tenantId,
        digestWindowS: 0,
        by: "alice"
      })
      yield* outbox({ channelId: channel.id, tenantId })
      yield* Dispatcher.runOnce(fast)
      assert.strictEqual(hook.received.length, 1)
      assert.strictEqual(verify(first, hook.received[0]!).type, "job.dead_lettered")

      const updated = yield* channels.update(channel.id, {
        secret: second,
        events: ["job.dead_lettered"],
        name: `${channel.name}-renamed`,
        by: "bob"
      })
      assert.deepInclude(updated, { hasSecret: true, events: ["job.dead_lettered"], name: `${channel.name}-renamed` })
      assert.isAtLeast(updated.updatedAt.getTime(), channel.updatedAt.getTime())
      yield* outbox({ channelId: channel.id, tenantId })
      yield* Dispatcher.runOnce(fast)
      assert.strictEqual(hook.received.length, 2)
      assert.strictEqual(verify(second, hook.received[1]!).type, "job.dead_lettered")
      assert.throws(() => verify(first, hook.received[1]!))

      const audit = yield* auditOf(channel.id)
      assert.deepStrictEqual(audit.map((a) => [a.action, a.by]), [["created", "alice"], ["updated", "bob"]])
      assert.deepStrictEqual(audit[1]!.fields, ["events", "name", "secret"])

      // The rules across fields hold for the channel a patch leaves.
      assert.strictEqual((yield* invalidField(channels.update(channel.id, { secret: null, by: "bob" }))).field, "secret")
      assert.strictEqual((yield* invalidField(channels.update(channel.id, { url: "smtp://h.example.com", by: "b" }))).field, "url")
      assert.strictEqual((yield* invalidField(channels.update(channel.id, { sender: "a@example.com", by: "b" }))).field, "sender")
      assert.strictEqual((yield* invalidField(channels.update(channel.id, { minPriority: 3 } as never))).field, "by")
      const mail = yield* channels.create({
        name: Factory.unique("m"),
        kind: "email",
        url: "smtp://u@mail.example.com",
        recipients: ["a@example.com"],
        tenantId,
        by: "t"
      })
      assert.strictEqual((yield* invalidField(channels.update(mail.id, { recipients: [], by: "t" }))).field, "recipients")
      const cleared = yield* channels.update(mail.id, { secret: "pw", by: "t" })
      assert.isTrue(cleared.hasSecret)
      assert.isFalse((yield* channels.update(mail.id, { secret: null, by: "t" })).hasSecret)
      // Refused patches changed nothing.
      assert.deepStrictEqual((yield* auditOf(channel.id)).length, 2)
      assert.deepInclude(yield* channels.get(channel.id), { hasSecret: true, sender: null })

      const missing = yield* Effect.exit(channels.update(999_999_999, { enabled: false, by: "b" }))
      assert.isTrue(Exit.isFailure(missing))
      assert.deepStrictEqual(Exit.isFailure(missing) && missing.cause._tag === "Fail" ? missing.cause.error._tag : null, "Redrive/AlertChannelNotFound")
    }))

  it.scoped("a removed channel is gone (with its deliveries); its audit trail stays", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const sql = yield* SqlClient.SqlClient
      const tenantId = Factory.tenant()
      const c = yield* channels.create({ name: Factory.unique("rm"), kind: "slack", url: "https://s.example.com/x", tenantId, by: "a" })
      const deliveryId = yield* outbox({ channelId: c.id, tenantId })
      yield* channels.remove(c.id, { by: "carol" })
      const error = yield* Effect.flip(channels.get(c.id))
      assert.strictEqual(error._tag, "Redrive/AlertChannelNotFound")
      assert.strictEqual((yield* Effect.flip(channels.remove(c.id, { by: "carol" })))._tag, "Redrive/AlertChannelNotFound")
      assert.strictEqual((yield* Effect.flip(channels.remove(String(c.id), { by: "" })))._tag, "Redrive/InvalidInput")
      const [left] = yield* sql<{ n: number }>`select count(*)::int as n from redrive.alert_delivery where id = ${deliveryId}`
      assert.strictEqual(left!.n, 0)
      assert.deepStrictEqual((yield* auditOf(c.id)).map((a) => [a.action, a.by]), [["created", "a"], ["removed", "carol"]])
    }))

  it.scoped("deliveries come newest first, page by keyset and filter; attempts lists every try of one", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const tenantId = Factory.tenant()
      const c = yield* channels.create({ name: Factory.unique("pg"), kind: "slack", url: "https://s.example.com/x", tenantId, by: "t" })
      const other = yield* channels.create({ name: Factory.unique("pg"), kind: "slack", url: "https://s.example.com/y", tenantId, by: "t" })
      const ids: Array<number> = []
      for (let i = 0; i < 7; i++) {
        ids.push(yield* outbox({ channelId: c.id, tenantId, event: i % 2 === 0 ? "job.dead_lettered" : "job.failing", payload: { i } }))
      }
      yield* outbox({ channelId: other.id, tenantId })
      // Nothing here is sent: a dispatcher pass in another test must not move these rows.
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`update redrive.alert_delivery set next_attempt_at = now() + interval '1 day' where channel_id in (${c.id}, ${other.id})`)
      const newest = [...ids].reverse()

      const page1 = yield* channels.deliveries({ channelId: c.id, limit: 3 })
      assert.deepStrictEqual(page1.map((d) => d.id), newest.slice(0, 3))
      const page2 = yield* channels.deliveries({ channelId: c.id, limit: 3, before: page1[2]!.id })
      assert.deepStrictEqual(page2.map((d) => d.id), newest.slice(3, 6))
      const page3 = yield* channels.deliveries({ channelId: String(c.id), limit: 3, before: String(page2[2]!.id) })
      assert.deepStrictEqual(page3.map((d) => d.id), newest.slice(6))
      assert.deepInclude(page1[0], {
        channelId: c.id,
        tenantId,
        event: "job.dead_lettered",
        payload: { i: 6 },
        state: "pending",
        attempts: 0,
        lastStatus: null,
        lastError: null,
        deliveredAt: null,
        sentIn: null,
        coalesceKey: null
      })
      const failing = yield* channels.deliveries({ channelId: c.id, event: "job.failing" })
      assert.deepStrictEqual(failing.map((d) => d.id), [ids[5], ids[3], ids[1]])

      // Tries 1 and 2 answer 503, try 3 200: three passes of the dispatcher.
      const hook = yield* endpoint((n) => (n < 2 ? 503 : 200))
      const flaky = yield* channels.create({ name: Factory.unique("fl"), kind: "webhook", url: hook.url, secret: newSecret(), tenantId, by: "t" })
      const flakyId = yield* outbox({ channelId: flaky.id, tenantId })
      for (let pass = 0; pass < 3; pass++) {
        yield* makeDue(flaky.id)
        yield* Dispatcher.runOnce(fast)
      }
      const tries = yield* channels.attempts(flakyId)
      assert.deepStrictEqual(tries.map((t) => [t.deliveryId, t.attempt, t.outcome, t.statusCode]), [
        [flakyId, 1, "failed", 503],
        [flakyId, 2, "failed", 503],
        [flakyId, 3, "delivered", 200]
      ])
      assert.match(tries[0]!.error ?? "", /HTTP 503/)
      assert.deepStrictEqual(tries.map((t) => t.tenantId), [tenantId, tenantId, tenantId])
      const delivered = yield* channels.deliveries({ channelId: flaky.id, state: "delivered" })
      assert.deepStrictEqual(delivered.map((d) => d.id), [flakyId])
      assert.deepInclude(delivered[0], { attempts: 3, lastStatus: 200 })
      assert.instanceOf(delivered[0]!.deliveredAt, Date)
      assert.deepStrictEqual(yield* channels.deliveries({ channelId: flaky.id, state: "pending" }), [])
      assert.deepStrictEqual(yield* channels.attempts(ids[1]!), [])
      assert.strictEqual((yield* Effect.flip(channels.attempts(999_999_999)))._tag, "Redrive/AlertDeliveryNotFound")
    }))

  it.scoped("sendTest writes an alert.test delivery that the dispatcher delivers to the endpoint, signed and readable", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const tenantId = Factory.tenant()
      const hook = yield* endpoint()
      const secret = newSecret()
      // `events` does not name alert.test: a test goes to the channel it is asked for regardless.
      const c = yield* channels.create({
        name: Factory.unique("test"),
        kind: "webhook",
        url: hook.url,
        secret,
        tenantId,
        events: ["circuit.opened"],
        by: "t"
      })
      const { deliveryId } = yield* channels.sendTest({ channelId: c.id, by: "dave" })
      const [pending] = yield* channels.deliveries({ channelId: c.id })
      assert.deepInclude(pending, { id: deliveryId, event: "alert.test", state: "pending", tenantId })
      assert.deepInclude(pending!.payload, { channelId: c.id, channel: c.name, kind: "webhook", by: "dave", tenantId })

      yield* Dispatcher.runOnce(fast)
      assert.strictEqual(hook.received.length, 1)
      const message = verify(secret, hook.received[0]!)
      assert.strictEqual(message.type, "alert.test")
      assert.strictEqual(message.summary, `[redrive] Test alert for channel ${c.name}, sent by dave`)
      assert.strictEqual(hook.received[0]!.headers["webhook-id"], `msg_${deliveryId}`)
      const [sent] = yield* channels.deliveries({ channelId: c.id })
      assert.deepInclude(sent, { id: deliveryId, state: "delivered", attempts: 1, lastStatus: 200 })
      assert.deepStrictEqual((yield* channels.attempts(deliveryId)).map((t) => t.outcome), ["delivered"])
      assert.deepStrictEqual((yield* auditOf(c.id)).map((a) => [a.action, a.by]), [["created", "t"], ["tested", "dave"]])

      // A Slack channel's test is a Block Kit message headed by the test's title.
      const slackHook = yield* endpoint()
      const slack = yield* channels.create({ name: Factory.unique("st"), kind: "slack", url: slackHook.url, tenantId, by: "t" })
      yield* channels.sendTest({ channelId: String(slack.id), by: "dave" })
      yield* Dispatcher.runOnce(fast)
      const blocks = JSON.parse(slackHook.received[0]!.body) as { blocks: Array<{ type: string; text?: { text: string } }> }
      assert.strictEqual(blocks.blocks[0]!.text!.text, `[redrive] Test alert for channel ${slack.name}, sent by dave`)
      assert.include(blocks.blocks[1]!.text!.text, "nothing is wrong")

      // A disabled channel, or one that does not exist, is refused.
      yield* channels.update(slack.id, { enabled: false, by: "t" })
      assert.strictEqual((yield* invalidField(channels.sendTest({ channelId: slack.id, by: "dave" }))).field, "channelId")
      assert.strictEqual(
        (yield* Effect.flip(channels.sendTest({ channelId: 999_999_999, by: "dave" })))._tag,
        "Redrive/AlertChannelNotFound"
      )
    }))

  it.scoped("inside a tenant block a tenant sees and changes its own channels only, and cannot create global ones", () =>
    Effect.gen(function*() {
      const channels = yield* AlertChannels
      const sql = yield* SqlClient.SqlClient
      const [a, b] = [Factory.tenant(), Factory.tenant()]
      const base = { kind: "slack", url: "https://s.example.com/x", by: "ops" } as const
      const ofB = yield* channels.create({ ...base, name: Factory.unique("b"), tenantId: b })
      const global = yield* channels.create({ ...base, name: Factory.unique("g"), tenantId: null })
      yield* Effect.addFinalizer(() => Effect.ignore(sql`delete from redrive.alert_channel where id = ${global.id}`))
      assert.strictEqual(global.tenantId, null)
      const bDelivery = yield* outbox({ channelId: ofB.id, tenantId: b })
      // A global channel's delivery about tenant a's event: not a's channel, so not in a's list.
      yield* outbox({ channelId: global.id, tenantId: a })

      const asA = <X, E>(effect: Effect.Effect<X, E>) => Tenant.withTenant(a, effect)
      const own = yield* asA(channels.create({ ...base, kind: "webhook", url: "https://a.example.com/h", secret: newSecret(), name: Factory.unique("a") }))
      assert.deepInclude(own, { tenantId: a, hasSecret: true })
      assert.strictEqual((yield* invalidField(asA(channels.create({ ...base, name: Factory.unique("a"), tenantId: null })))).field, "tenantId")
      assert.strictEqual((yield* invalidField(asA(channels.create({ ...base, name: Factory.unique("a"), tenantId: b })))).field, "tenantId")

      assert.deepStrictEqual((yield* asA(channels.list())).map((c) => c.id), [own.id])
      assert.deepStrictEqual(yield* asA(channels.list({ tenantId: b })), [])
      assert.deepStrictEqual(yield* asA(channels.get(own.id)), own)
      for (const id of [ofB.id, global.id]) {
        assert.strictEqual((yield* Effect.flip(asA(channels.get(id))))._tag, "Redrive/AlertChannelNotFound")
        assert.strictEqual((yield* Effect.flip(asA(channels.update(id, { enabled: false, by: "a" }))))._tag, "Redrive/AlertChannelNotFound")
        assert.strictEqual((yield* Effect.flip(asA(channels.remove(id, { by: "a" }))))._tag, "Redrive/AlertChannelNotFound")
        assert.strictEqual((yield* Effect.flip(asA(channels.sendTest({ channelId: id, by: "a" }))))._tag, "Redrive/AlertChannelNotFound")
      }
      // b's and the global channel are untouched, and their audit trails name no change by a.
      assert.deepInclude(yield* channels.get(ofB.id), { enabled: true })
      assert.deepInclude(yield* channels.get(global.id), { enabled: true })
      assert.deepStrictEqual((yield* auditOf(ofB.id)).map((e) => e.action), ["created"])

      // Its own: updated, tested and listed through the block; the audit row is its tenant's.
      const updated = yield* asA(channels.update(own.id, { minPriority: 4, by: "a-admin" }))
      assert.deepInclude(updated, { minPriority: 4, tenantId: a })
      const { deliveryId } = yield* asA(channels.sendTest({ channelId: own.id, by: "a-admin" }))
      assert.deepStrictEqual((yield* asA(channels.deliveries())).map((d) => d.id), [deliveryId])
      assert.deepStrictEqual(yield* asA(channels.deliveries({ channelId: ofB.id })), [])
      assert.strictEqual((yield* Effect.flip(asA(channels.attempts(bDelivery))))._tag, "Redrive/AlertDeliveryNotFound")
      const trail = yield* asA(sql<{ action: string; tenantId: string }>`
        select action, tenant_id from redrive.alert_channel_event order by id`)
      assert.deepStrictEqual(trail.map((e) => [e.action, e.tenantId]), [["created", a], ["updated", a], ["tested", a]])
      yield* asA(channels.remove(own.id, { by: "a-admin" }))
      assert.deepStrictEqual(yield* asA(channels.list()), [])
    }))
})
