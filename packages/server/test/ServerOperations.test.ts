/**
 * End to end over real HTTP (and the typed RPC client) against the `serve` bin as a child process:
 * the control audit trail, the DLQ purge (admin keys only) and alert channels (tenant keys on
 * their own, read keys look only, the secret never in an answer).
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import * as ApiKeys from "../src/auth/ApiKeys.js"
import { RedriveClient } from "../src/rpc/Client.js"
import { post, request, Server, layer as serverLayer } from "./serverProcess.js"

const TestLayer = Layer.mergeAll(serverLayer, ApiKeys.layer).pipe(Layer.provideMerge(TestDatabase.layer))

const rpc = <A, E>(key: string, f: (client: typeof RedriveClient.Service) => Effect.Effect<A, E>) =>
  Effect.flatMap(Server, (server) =>
    Effect.flatMap(RedriveClient, f).pipe(Effect.provide(RedriveClient.layer({ url: server.baseUrl, key }))))

type Answer = { readonly status: number; readonly json: unknown; readonly text: string }
const http = (path: string, init: Parameters<typeof request>[2] = {}) => Effect.flatMap(Server, (s) => request(s.baseUrl, path, init))
const httpPost = (path: string, body: unknown, key?: string) => Effect.flatMap(Server, (s) => post(s.baseUrl, path, body, key))
const httpSend = (method: "PATCH" | "DELETE", path: string, key: string, body?: unknown) =>
  http(path, {
    method,
    key,
    ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {})
  })

const newKey = (name: string, tenant: string | null, access: "write" | "read" = "write") =>
  Effect.map(Effect.flatMap(ApiKeys.ApiKeys, (keys) => keys.create({ name, tenant, access })), (k) => k.secret)

const count = (query: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<{ n: string }>(query)).pipe(Effect.map((r) => Number(r[0]!.n)))

/** Fails the test with every (name, status) seen so far when one status is not the expected one. */
const expectStatuses = (cases: ReadonlyArray<readonly [string, Effect.Effect<Answer, never, Server>, number]>) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    for (const [name, call, expected] of cases) {
      const { status, text } = yield* call
      seen.push(`${name}: ${status}`)
      if (status !== expected) assert.fail(`${name}: expected ${expected}, got ${status} ${text}\n${seen.join("\n")}`)
    }
  })

const whsec = () => `whsec_${randomBytes(24).toString("base64")}`

layer(TestLayer, { excludeTestServices: true, timeout: "150 seconds" })("server operations", (it) => {
  it.effect("controls.events: a tenant key reads its own tenant's audit trail, an admin every one; keyset `before`", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const queueA = Factory.queue()
      const queueB = Factory.queue()
      const keyA = yield* newKey("events-a", a)
      const readA = yield* newKey("events-a-read", a, "read")
      const keyB = yield* newKey("events-b", b)
      const admin = yield* newKey("events-admin", null)
      assert.strictEqual((yield* httpPost("/v1/controls/pause", { queue: queueA, reason: "deploy" }, keyA)).status, 200)
      assert.strictEqual((yield* httpPost("/v1/controls/resume", { queue: queueA }, keyA)).status, 200)
      assert.strictEqual((yield* httpPost("/v1/controls/pause", { queue: queueB, reason: "b's" }, keyB)).status, 200)

      type Event = { id: number; tenantId: string; queue: string; action: string; actor: string; reason: string | null }
      const ofA = yield* http("/v1/controls/events", { key: keyA })
      assert.strictEqual(ofA.status, 200)
      const eventsA = ofA.json as ReadonlyArray<Event>
      assert.deepStrictEqual([...new Set(eventsA.map((e) => e.tenantId))], [a])
      assert.deepStrictEqual(eventsA.map((e) => [e.queue, e.action, e.actor]), [[queueA, "resume", "key:events-a"], [queueA, "pause", "key:events-a"]])
      // A read key reads it too; another tenant's scope or every tenant's is refused.
      assert.deepStrictEqual(((yield* http("/v1/controls/events", { key: readA })).json as ReadonlyArray<Event>).map((e) => e.id), eventsA.map((e) => e.id))
      yield* expectStatuses([
        ["A asks for B's events", http(`/v1/controls/events?tenantId=${b}`, { key: keyA }), 403],
        ["A asks for every tenant's", http("/v1/controls/events?tenantId=*", { key: keyA }), 403],
        ["no key", http("/v1/controls/events"), 401]
      ])
      // An admin sees B's scope exactly, and pages newest first with `before`.
      const ofB = (yield* http(`/v1/controls/events?tenantId=${b}&queue=${queueB}`, { key: admin })).json as ReadonlyArray<Event>
      assert.deepStrictEqual(ofB.map((e) => [e.tenantId, e.action, e.reason]), [[b, "pause", "b's"]])
      const first = (yield* http("/v1/controls/events?limit=2", { key: admin })).json as ReadonlyArray<Event>
      assert.strictEqual(first.length, 2)
      const next = (yield* http(`/v1/controls/events?limit=2&before=${first[1]!.id}`, { key: admin })).json as ReadonlyArray<Event>
      assert.isTrue(next.length >= 1 && next.every((e) => e.id < first[1]!.id))
      // Over RPC: the same trail, scoped to A's queue.
      const overRpc = yield* rpc(keyA, (c) => c.controls.events({ queue: queueA }))
      assert.deepStrictEqual(overRpc.map((e) => e.action), ["resume", "pause"])
      const refused = yield* Effect.flip(rpc(keyA, (c) => c.controls.events({ tenantId: b })))
      assert.strictEqual(refused._tag, "Redrive/Forbidden")
    }))

  it.effect("dlq.purge: admin write keys only; a dry run counts, a purge deletes and is audited under the key", () =>
    Effect.gen(function*() {
      const t = Factory.tenant()
      const queue = Factory.queue()
      yield* Effect.all([1, 2, 3].map(() => Factory.insertDeadLetter({ tenantId: t, queue })))
      const left = count(`select count(*) as n from redrive.job_dlq where queue = '${queue}'`)
      const keyT = yield* newKey("purge-tenant", t)
      const readAdmin = yield* newKey("purge-read-admin", null, "read")
      const admin = yield* newKey("purge-admin", null)
      yield* expectStatuses([
        ["tenant key purges", httpPost("/v1/dead-letters/purge", { filter: { queue } }, keyT), 403],
        ["tenant key dry run", httpPost("/v1/dead-letters/purge", { filter: { queue }, dryRun: true }, keyT), 403],
        ["read admin key purges", httpPost("/v1/dead-letters/purge", { filter: { queue } }, readAdmin), 403],
        ["read admin key dry run", httpPost("/v1/dead-letters/purge", { filter: { queue }, dryRun: true }, readAdmin), 403],
        ["no filter, no olderThanMs", httpPost("/v1/dead-letters/purge", { filter: {} }, admin), 400]
      ])
      assert.strictEqual(yield* left, 3)
      const dry = yield* httpPost("/v1/dead-letters/purge", { filter: { queue }, dryRun: true }, admin)
      assert.deepStrictEqual([dry.status, dry.json], [200, { count: 3, dryRun: true, auditId: null }])
      assert.strictEqual(yield* left, 3)
      // Only those dead-lettered more than a day ago: none yet.
      const old = yield* httpPost("/v1/dead-letters/purge", { filter: { queue }, olderThanMs: 86_400_000, dryRun: true }, admin)
      assert.strictEqual((old.json as { count: number }).count, 0)
      const purged = yield* httpPost("/v1/dead-letters/purge", { filter: { queue }, reason: "test data" }, admin)
      assert.strictEqual(purged.status, 200)
      const result = purged.json as { count: number; dryRun: boolean; auditId: number }
      assert.deepStrictEqual([result.count, result.dryRun], [3, false])
      assert.strictEqual(yield* left, 0)
      assert.strictEqual(
        yield* count(`select count(*) as n from redrive.dlq_purge where id = ${result.auditId} and purged_by = 'key:purge-admin' and reason = 'test data'`),
        1
      )
      const again = yield* rpc(admin, (c) => c.dlq.purge({ filter: { queue }, dryRun: true }))
      assert.strictEqual(again.count, 0)
      const rpcRefused = yield* Effect.flip(rpc(keyT, (c) => c.dlq.purge({ filter: { queue }, dryRun: true })))
      assert.strictEqual(rpcRefused._tag, "Redrive/Forbidden")
    }))

  it.effect("alert channels: a tenant key manages its own, another tenant's is 404 and unchanged, a read key only looks; the secret is never returned", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const keyA = yield* newKey("alerts-a", a)
      const readA = yield* newKey("alerts-a-read", a, "read")
      const keyB = yield* newKey("alerts-b", b)
      const admin = yield* newKey("alerts-admin", null)
      const secret = whsec()
      const rotatedSecret = whsec()
      const answers: Array<string> = []
      const seen = <A extends Answer>(answer: A) => {
        answers.push(answer.text)
        return answer
      }
      // Nothing listens on port 9: no dispatcher runs in this server anyway.
      const body = { name: "ops-hook", kind: "webhook", url: "http://127.0.0.1:9/hook", secret, minPriority: 5 }

      yield* expectStatuses([
        ["read key creates", httpPost("/v1/alert-channels", body, readA), 403],
        ["A creates for B", httpPost("/v1/alert-channels", { ...body, tenantId: b }, keyA), 403],
        ["A creates a global one", httpPost("/v1/alert-channels", { ...body, tenantId: null }, keyA), 403]
      ])
      assert.strictEqual(yield* count(`select count(*) as n from redrive.alert_channel where name = 'ops-hook'`), 0)
      const created = seen(yield* httpPost("/v1/alert-channels", body, keyA))
      assert.strictEqual(created.status, 201)
      const channel = created.json as { id: number; tenantId: string; hasSecret: boolean; minPriority: number }
      assert.deepStrictEqual([channel.tenantId, channel.hasSecret, channel.minPriority], [a, true, 5])
      assert.notProperty(created.json, "secret")
      const id = channel.id

      // B: not found, whatever it tries; a read key of A: looks, never changes.
      yield* expectStatuses([
        ["B gets A's", http(`/v1/alert-channels/${id}`, { key: keyB }), 404],
        ["B updates A's", httpSend("PATCH", `/v1/alert-channels/${id}`, keyB, { enabled: false }), 404],
        ["B removes A's", httpSend("DELETE", `/v1/alert-channels/${id}`, keyB), 404],
        ["B tests A's", httpPost(`/v1/alert-channels/${id}/test`, {}, keyB), 404],
        ["B lists A's deliveries", http(`/v1/alert-channels/${id}/deliveries`, { key: keyB }), 404],
        ["B lists for A", http(`/v1/alert-channels?tenantId=${a}`, { key: keyB }), 403],
        ["read key gets", http(`/v1/alert-channels/${id}`, { key: readA }), 200],
        ["read key lists deliveries", http(`/v1/alert-channels/${id}/deliveries`, { key: readA }), 200],
        ["read key updates", httpSend("PATCH", `/v1/alert-channels/${id}`, readA, { enabled: false }), 403],
        ["read key removes", httpSend("DELETE", `/v1/alert-channels/${id}`, readA), 403],
        ["read key tests", httpPost(`/v1/alert-channels/${id}/test`, {}, readA), 403]
      ])
      assert.strictEqual(yield* count(`select count(*) as n from redrive.alert_channel where id = ${id} and enabled`), 1)
      assert.strictEqual(yield* count(`select count(*) as n from redrive.alert_delivery where channel_id = ${id}`), 0)
      type Channel = { id: number; name: string; minPriority: number; hasSecret: boolean }
      const listB = seen(yield* http("/v1/alert-channels", { key: keyB })).json as ReadonlyArray<Channel>
      assert.isFalse(listB.some((c) => c.id === id))
      const listA = seen(yield* http("/v1/alert-channels", { key: readA })).json as ReadonlyArray<Channel>
      assert.deepStrictEqual(listA.map((c) => c.id), [id])

      // A rotates the secret and changes a rule; the audit names the key.
      const updated = seen(yield* httpSend("PATCH", `/v1/alert-channels/${id}`, keyA, { secret: rotatedSecret, minPriority: 3 }))
      assert.strictEqual(updated.status, 200)
      assert.deepStrictEqual([(updated.json as Channel).minPriority, (updated.json as Channel).hasSecret], [3, true])
      assert.strictEqual(
        yield* count(`select count(*) as n from redrive.alert_channel_event where channel_id = ${id} and by = 'key:alerts-a'`),
        2
      )

      // Test alerts, their deliveries newest first (keyset `before`), a delivery's tries.
      const sent = seen(yield* httpPost(`/v1/alert-channels/${id}/test`, {}, keyA))
      assert.strictEqual(sent.status, 202)
      const firstDelivery = (sent.json as { deliveryId: number }).deliveryId
      const secondDelivery = (yield* rpc(keyA, (c) => c.alertChannels.sendTest({ id }))).deliveryId
      type Delivery = { id: number; event: string; tenantId: string }
      const page = seen(yield* http(`/v1/alert-channels/${id}/deliveries?limit=1`, { key: keyA })).json as ReadonlyArray<Delivery>
      assert.deepStrictEqual(page.map((d) => [d.id, d.event, d.tenantId]), [[secondDelivery, "alert.test", a]])
      const after = seen(yield* http(`/v1/alert-channels/${id}/deliveries?before=${secondDelivery}`, { key: keyA })).json as ReadonlyArray<Delivery>
      assert.deepStrictEqual(after.map((d) => d.id), [firstDelivery])
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`insert into redrive.alert_attempt (delivery_id, tenant_id, attempt, outcome, status_code, error, duration_ms)
            values (${firstDelivery}, ${a}, 1, 'failed', 503, 'unavailable', 12)`)
      const tries = seen(yield* http(`/v1/alert-deliveries/${firstDelivery}/attempts`, { key: readA }))
      assert.deepStrictEqual((tries.json as ReadonlyArray<{ outcome: string; statusCode: number }>).map((t) => [t.outcome, t.statusCode]), [["failed", 503]])
      assert.strictEqual((yield* http(`/v1/alert-deliveries/${firstDelivery}/attempts`, { key: keyB })).status, 404)

      // Over RPC: an admin sees it, B's typed error is not-found.
      const got = yield* rpc(admin, (c) => c.alertChannels.get({ id }))
      assert.deepStrictEqual([got.tenantId, got.minPriority], [a, 3])
      answers.push(JSON.stringify(yield* rpc(admin, (c) => c.alertChannels.list({}))))
      const missing = yield* Effect.flip(rpc(keyB, (c) => c.alertChannels.get({ id })))
      assert.strictEqual(missing._tag, "Redrive/AlertChannelNotFound")

      // A removes it; then it is gone.
      assert.strictEqual((yield* httpSend("DELETE", `/v1/alert-channels/${id}`, keyA)).status, 204)
      assert.strictEqual((yield* http(`/v1/alert-channels/${id}`, { key: keyA })).status, 404)

      // The secret never travels back: not in any answer, not in the server's output.
      const output = (yield* Server).output()
      for (const s of [secret, rotatedSecret]) {
        for (const text of [...answers, output]) assert.notInclude(text, s)
        assert.notInclude(output, s.slice("whsec_".length))
      }
    }))
})
