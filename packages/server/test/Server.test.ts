/**
 * End to end over real HTTP against the `serve` bin running as a child process: the typed RPC
 * client, the HTTP API with fetch, the auth matrix, OpenAPI, /healthz /readyz /metrics, and a
 * graceful SIGTERM.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, Schedule } from "effect"
import * as ApiKeys from "../src/auth/ApiKeys.js"
import { RedriveClient } from "../src/rpc/Client.js"
import { post, request, Server, spawnServer, layer as serverLayer } from "./serverProcess.js"

const TestLayer = Layer.mergeAll(serverLayer, ApiKeys.layer).pipe(Layer.provideMerge(TestDatabase.layer))

/** Runs `f` with a typed RPC client of the test's server using `key`. */
const rpc = <A, E>(key: string, f: (client: typeof RedriveClient.Service) => Effect.Effect<A, E>) =>
  Effect.flatMap(Server, (server) =>
    Effect.flatMap(RedriveClient, f).pipe(Effect.provide(RedriveClient.layer({ url: server.baseUrl, key }))))

const http = (path: string, init: Parameters<typeof request>[2] = {}) =>
  Effect.flatMap(Server, (s) => request(s.baseUrl, path, init))
const httpPost = (path: string, body: unknown, key?: string) => Effect.flatMap(Server, (s) => post(s.baseUrl, path, body, key))

const newKey = (name: string, tenant: string | null, access: "write" | "read" = "write") =>
  Effect.flatMap(ApiKeys.ApiKeys, (keys) => keys.create({ name, tenant, access }))

const count = (query: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<{ n: string }>(query)).pipe(Effect.map((r) => Number(r[0]!.n)))

layer(TestLayer, { excludeTestServices: true, timeout: "150 seconds" })("server process", (it) => {
  it.effect("serves /healthz, /readyz (migrations current), /metrics in Prometheus text and a valid OpenAPI document", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* http("/healthz")).json, { status: "ok" })
      const ready = yield* http("/readyz")
      assert.strictEqual(ready.status, 200)
      assert.strictEqual((ready.json as { status: string }).status, "ready")
      const openapi = yield* http("/openapi.json")
      assert.strictEqual(openapi.status, 200)
      const doc = openapi.json as { openapi: string; paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } }
      assert.match(doc.openapi, /^3\./)
      for (const path of ["/v1/dead-letters", "/v1/dead-letters/{id}", "/v1/dead-letters/{id}/replay", "/v1/replays", "/v1/replays/{id}", "/v1/jobs/{id}/retry", "/v1/controls/pause", "/v1/stats", "/v1/keys", "/v1/keys/{id}/rotate", "/v1/controls/events", "/v1/dead-letters/purge", "/v1/alert-channels", "/v1/alert-channels/{id}", "/v1/alert-channels/{id}/deliveries", "/v1/alert-deliveries/{id}/attempts", "/v1/alert-channels/{id}/test"]) {
        assert.property(doc.paths, path)
      }
      assert.property(doc.components.securitySchemes, "bearer")
      const docs = yield* http("/docs")
      assert.strictEqual(docs.status, 200)
      assert.include(docs.contentType, "text/html")
      // A replay in the server process moves redrive_replays_total, read through the Prometheus exporter.
      const admin = yield* newKey("metrics-admin", null)
      const dlq = yield* Factory.insertDeadLetter({ tenantId: Factory.tenant() })
      yield* httpPost(`/v1/dead-letters/${dlq.id}/replay`, {}, admin.secret)
      const metrics = yield* http("/metrics")
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.contentType, "text/plain")
      assert.match(metrics.text, /# TYPE redrive_replays_total counter/)
      assert.match(metrics.text, /redrive_replays_total\{[^}]*mode="one"[^}]*\} [1-9]/)
    }))

  it.effect("the typed RPC client lists, gets and replays dead letters; a repeated requestId replays once", () =>
    Effect.gen(function*() {
      const tenant = Factory.tenant()
      const queue = Factory.queue()
      const rows = yield* Effect.all([1, 2, 3].map(() => Factory.insertDeadLetter({ tenantId: tenant, queue })))
      const { secret } = yield* newKey("rpc-admin", null)
      const page = yield* rpc(secret, (c) => c.dlq.list({ filter: { queue }, limit: 2 }))
      assert.strictEqual(page.items.length, 2)
      assert.isNotNull(page.nextCursor)
      const rest = yield* rpc(secret, (c) => c.dlq.list({ filter: { queue }, limit: 2, cursor: page.nextCursor! }))
      assert.deepStrictEqual([...page.items, ...rest.items].map((d) => d.id).sort(), rows.map((r) => r.id).sort())
      const one = yield* rpc(secret, (c) => c.dlq.get({ id: rows[0]!.id }))
      assert.strictEqual(one.queue, queue)
      const first = yield* rpc(secret, (c) => c.replay.one({ id: rows[0]!.id, requestId: "rpc-replay-1" }))
      const again = yield* rpc(secret, (c) => c.replay.one({ id: rows[0]!.id, requestId: "rpc-replay-1" }))
      assert.isTrue(first.created)
      assert.strictEqual(again.jobId, first.jobId)
      assert.strictEqual(yield* count(`select count(*) as n from redrive.job where replay_of = ${rows[0]!.id}`), 1)
      const missing = yield* Effect.flip(rpc(secret, (c) => c.dlq.get({ id: 999_999_999 })))
      assert.strictEqual(missing._tag, "Redrive/DeadLetterNotFound")
      const stats = yield* rpc(secret, (c) => c.stats.get())
      assert.isTrue(stats.queues.some((q) => q.queue === queue))
    }))

  it.effect("bulk replay over RPC: a dry run counts, a request replays everything matching, its status shows progress", () =>
    Effect.gen(function*() {
      const tenant = Factory.tenant()
      const queue = Factory.queue()
      yield* Effect.all([1, 2, 3, 4].map(() => Factory.insertDeadLetter({ tenantId: tenant, queue })))
      const { secret } = yield* newKey("bulk-tenant", tenant)
      const dry = yield* rpc(secret, (c) => c.replay.bulk({ filter: { queue }, dryRun: true }))
      assert.deepStrictEqual([dry.state, dry.matched, dry.replayed], ["done", 4, 0])
      const created = yield* rpc(secret, (c) => c.replay.bulk({ filter: { queue } }))
      assert.strictEqual(created.tenantId, tenant)
      const done = yield* rpc(secret, (c) => c.replay.status({ id: created.id })).pipe(
        Effect.filterOrFail((r) => r.state === "done", (r) => new Error(`still ${r.state}`)),
        Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 150 })
      )
      assert.deepStrictEqual([done.state, done.replayed], ["done", 4])
      assert.strictEqual(yield* count(`select count(*) as n from redrive.job where tenant_id = '${tenant}' and replay_of is not null`), 4)
    }))

  it.effect("jobs over HTTP: get, retry now and cancel, through the entity; another tenant's job is 404 and unchanged", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const job = yield* Factory.insertJob({ tenantId: a, runAt: new Date(Date.now() + 3_600_000) })
      const keyA = (yield* newKey("jobs-a", a)).secret
      const keyB = (yield* newKey("jobs-b", b)).secret
      const got = yield* http(`/v1/jobs/${job.id}`, { key: keyA })
      assert.strictEqual(got.status, 200)
      assert.strictEqual((got.json as { state: string }).state, "available")
      assert.strictEqual((yield* http(`/v1/jobs/${job.id}`, { key: keyB })).status, 404)
      assert.strictEqual((yield* httpPost(`/v1/jobs/${job.id}/cancel`, {}, keyB)).status, 404)
      const retried = yield* httpPost(`/v1/jobs/${job.id}/retry`, { requestId: "retry-1" }, keyA)
      assert.strictEqual(retried.status, 200)
      assert.isTrue((retried.json as { rescheduled: boolean }).rescheduled)
      const cancelled = yield* httpPost(`/v1/jobs/${job.id}/cancel`, { reason: "customer left" }, keyA)
      assert.strictEqual(cancelled.status, 200)
      assert.strictEqual((cancelled.json as { job: { state: string } }).job.state, "cancelled")
      const again = yield* httpPost(`/v1/jobs/${job.id}/retry`, {}, keyA)
      assert.deepStrictEqual([again.status, (again.json as { _tag: string })._tag], [409, "Redrive/JobAlreadyFinished"])
    }))

  it.effect("auth matrix: missing, malformed, revoked, rotated, read-only, tenant A vs B, admin", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const queueB = Factory.queue()
      const dlqA = yield* Factory.insertDeadLetter({ tenantId: a })
      const dlqB = yield* Factory.insertDeadLetter({ tenantId: b, queue: queueB })
      const admin = yield* newKey("matrix-admin", null)
      const keyA = yield* newKey("matrix-a", a)
      const readA = yield* newKey("matrix-a-read", a, "read")
      const old = yield* newKey("matrix-old", a)
      const rotated = yield* Effect.flatMap(ApiKeys.ApiKeys, (k) => k.rotate({ id: old.key.id }))
      const revoked = yield* newKey("matrix-revoked", a)
      yield* Effect.flatMap(ApiKeys.ApiKeys, (k) => k.revoke({ id: revoked.key.id }))

      const cases: ReadonlyArray<readonly [string, Effect.Effect<{ status: number }, never, Server>, number]> = [
        ["no key", http("/v1/dead-letters"), 401],
        ["malformed key", http("/v1/dead-letters", { key: "hunter2" }), 401],
        ["Basic scheme", http("/v1/dead-letters", { headers: { authorization: `Basic ${keyA.secret}` } }), 401],
        ["revoked key", http("/v1/dead-letters", { key: revoked.secret }), 401],
        ["old key after rotation", http("/v1/dead-letters", { key: old.secret }), 200],
        ["rotated key", http("/v1/dead-letters", { key: rotated.secret }), 200],
        ["A reads its dead letter", http(`/v1/dead-letters/${dlqA.id}`, { key: keyA.secret }), 200],
        ["A reads B's dead letter", http(`/v1/dead-letters/${dlqB.id}`, { key: keyA.secret }), 404],
        ["A replays B's dead letter", httpPost(`/v1/dead-letters/${dlqB.id}/replay`, {}, keyA.secret), 404],
        ["A pauses B's scope", httpPost("/v1/controls/pause", { tenantId: b, reason: "x" }, keyA.secret), 403],
        ["A pauses every tenant", httpPost("/v1/controls/pause", { tenantId: "*", reason: "x" }, keyA.secret), 403],
        ["A bulk-replays B's scope", httpPost("/v1/replays", { filter: {}, scopeTenant: b }, keyA.secret), 403],
        ["tenant key lists keys", http("/v1/keys", { key: keyA.secret }), 403],
        ["tenant key creates a key", httpPost("/v1/keys", { name: "sneaky" }, keyA.secret), 403],
        ["read key lists", http("/v1/dead-letters", { key: readA.secret }), 200],
        ["read key replays", httpPost(`/v1/dead-letters/${dlqA.id}/replay`, {}, readA.secret), 403],
        ["read key pauses", httpPost("/v1/controls/pause", { reason: "x" }, readA.secret), 403],
        ["admin reads B's dead letter", http(`/v1/dead-letters/${dlqB.id}`, { key: admin.secret }), 200],
        ["admin lists keys", http("/v1/keys", { key: admin.secret }), 200]
      ]
      const seen: Array<string> = []
      for (const [name, call, expected] of cases) {
        const { status } = yield* call
        seen.push(`${name}: ${status}`)
        if (status !== expected) assert.fail(`${name}: expected ${expected}, got ${status}\n${seen.join("\n")}`)
      }
      // A's list holds A's dead letters only; B's dead letter was not replayed, B's scope not paused.
      const listA = yield* http("/v1/dead-letters?limit=500", { key: keyA.secret })
      const tenants = new Set((listA.json as { items: ReadonlyArray<{ tenantId: string }> }).items.map((d) => d.tenantId))
      assert.deepStrictEqual([...tenants], [a])
      assert.strictEqual(yield* count(`select count(*) as n from redrive.job_dlq where id = ${dlqB.id} and replayed_at is null`), 1)
      assert.strictEqual(yield* count(`select count(*) as n from redrive.control where tenant_id = '${b}' or tenant_id = '*'`), 0)
      assert.strictEqual(yield* count(`select count(*) as n from redrive.api_key where name = 'sneaky'`), 0)
      // The same over RPC: typed errors.
      const rpcB = yield* Effect.flip(rpc(keyA.secret, (c) => c.replay.one({ id: dlqB.id })))
      assert.strictEqual(rpcB._tag, "Redrive/DeadLetterNotFound")
      const rpcRevoked = yield* Effect.flip(rpc(revoked.secret, (c) => c.dlq.list({})))
      assert.strictEqual(rpcRevoked._tag, "Redrive/Unauthenticated")
      const rpcRead = yield* Effect.flip(rpc(readA.secret, (c) => c.controls.pause({ reason: "x" })))
      assert.strictEqual(rpcRead._tag, "Redrive/Forbidden")
      const rpcAdminOnly = yield* Effect.flip(rpc(keyA.secret, (c) => c.keys.list()))
      assert.strictEqual(rpcAdminOnly._tag, "Redrive/Forbidden")
      // A tenant key pauses and resumes its own scope; the audit names the key, never its secret.
      const paused = yield* httpPost("/v1/controls/pause", { queue: "matrix", reason: "deploy" }, keyA.secret)
      assert.strictEqual(paused.status, 200)
      assert.deepStrictEqual(
        [(paused.json as { control: { tenantId: string; initiatedBy: string } }).control.tenantId, (paused.json as { control: { initiatedBy: string } }).control.initiatedBy],
        [a, "key:matrix-a"]
      )
      const listed = yield* rpc(keyA.secret, (c) => c.controls.list())
      assert.isTrue(listed.some((c) => c.tenantId === a && c.queue === "matrix"))
      assert.strictEqual((yield* httpPost("/v1/controls/resume", { queue: "matrix" }, keyA.secret)).status, 200)
    }))

  it.effect("error groups, mutes, drain and stats: a tenant key sees and acts on its own share only", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const type = Factory.jobType()
      const queueA = Factory.queue()
      const queueB = Factory.queue()
      yield* Factory.insertDeadLetter({ tenantId: a, queue: queueA, type, fingerprint: "fp-srv" })
      yield* Factory.insertDeadLetter({ tenantId: a, queue: queueA, type, fingerprint: "fp-srv" })
      yield* Factory.insertDeadLetter({ tenantId: b, queue: queueB, type, fingerprint: "fp-srv" })
      // The counters their settles would have written (queue_health's dead letters of 24 h).
      yield* Factory.insertFailureStat({ tenantId: a, queue: queueA, type, deadLettered: 2, failures: 2 })
      yield* Factory.insertFailureStat({ tenantId: b, queue: queueB, type, deadLettered: 1, failures: 1 })
      const admin = (yield* newKey("groups-admin", null)).secret
      const keyA = (yield* newKey("groups-a", a)).secret
      const readA = (yield* newKey("groups-a-read", a, "read")).secret
      type Page = { groups: ReadonlyArray<{ fingerprint: string; tenantId: string | null; count: number; tenants: number }> }
      const asA = (yield* http(`/v1/error-groups?type=${type}`, { key: keyA })).json as Page
      assert.deepStrictEqual(asA.groups.map((g) => [g.fingerprint, g.tenantId, g.count]), [["fp-srv", a, 2]])
      const asAdmin = (yield* http(`/v1/error-groups?type=${type}`, { key: admin })).json as Page
      assert.deepStrictEqual(asAdmin.groups.map((g) => [g.count, g.tenants]), [[3, 2]])
      const detail = yield* httpPost("/v1/error-groups/get", { type, errorClass: "validation", fingerprint: "fp-srv" }, keyA)
      assert.strictEqual((detail.json as { count: number }).count, 2)
      const key = { type, errorClass: "validation", fingerprint: "fp-srv" }
      assert.strictEqual((yield* httpPost("/v1/error-groups/mute", { ...key, minutes: 5 }, readA)).status, 403)
      const muted = yield* httpPost("/v1/error-groups/mute", { ...key, minutes: 5, reason: "known outage" }, keyA)
      assert.deepStrictEqual([muted.status, (muted.json as { tenantId: string }).tenantId], [200, a])
      const unmuted = yield* rpc(keyA, (c) => c.errorGroups.unmute(key))
      assert.strictEqual(unmuted.tenantId, a)
      // Drain of the tenant's queue, over RPC; stats of the tenant key hold its queues only.
      const drained = yield* rpc(keyA, (c) => c.controls.drain({ queue: queueA }))
      assert.deepStrictEqual([drained.control?.tenantId, drained.control?.state], [a, "draining"])
      const stats = yield* rpc(keyA, (c) => c.stats.get())
      assert.deepStrictEqual([...new Set(stats.queues.map((q) => q.tenantId))], [a])
      assert.isTrue(stats.queues.some((q) => q.queue === queueA && q.deadLettered24h === 2))
      const adminStats = yield* rpc(admin, (c) => c.stats.get())
      assert.isTrue(adminStats.queues.some((q) => q.tenantId === b && q.queue === queueB))
    }))

  it.effect("keys are managed over HTTP by an admin key, and no secret reaches the server's output", () =>
    Effect.gen(function*() {
      const admin = yield* newKey("keys-admin", null)
      const created = yield* httpPost("/v1/keys", { name: "ci", tenant: "acme-ci", access: "read" }, admin.secret)
      assert.strictEqual(created.status, 201)
      const { key, secret } = created.json as { key: { id: number }; secret: string }
      assert.strictEqual((yield* http("/v1/dead-letters", { key: secret })).status, 200)
      const rotated = yield* httpPost(`/v1/keys/${key.id}/rotate`, {}, admin.secret)
      assert.strictEqual(rotated.status, 201)
      const newSecret = (rotated.json as { secret: string }).secret
      assert.strictEqual((yield* httpPost(`/v1/keys/${key.id}/revoke`, {}, admin.secret)).status, 200)
      assert.strictEqual((yield* http("/v1/dead-letters", { key: secret })).status, 401)
      assert.strictEqual((yield* http("/v1/dead-letters", { key: newSecret })).status, 200)
      const listed = yield* http("/v1/keys", { key: admin.secret })
      assert.notInclude(listed.text, secret)
      assert.notInclude(listed.text, ApiKeys.hashSecret(secret))
      const output = (yield* Server).output()
      for (const s of [admin.secret, secret, newSecret]) assert.notInclude(output, s)
      assert.notInclude(output, "Bearer ")
    }))

  it.effect("SIGTERM stops a server gracefully: exit code 0", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const other = yield* spawnServer(info.url, ["--with-worker"])
      assert.strictEqual((yield* request(other.baseUrl, "/healthz")).status, 200)
      other.child.kill("SIGTERM")
      const code = yield* other.exited.pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(code, 0)
    }).pipe(Effect.scoped))
})
