/**
 * What the server adds for the web console, over real HTTP against the `serve` bin: the built
 * console at `/` (content types, cache headers, the SPA fallback, the API's 404s kept, a clear 503
 * when the console is not built), `/v1/session`, the failure timeline (per minute, tenant-scoped)
 * and the DLQ listing's free-text reason filter (its cursor bound to the text).
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ApiKeys from "../src/auth/ApiKeys.js"
import { request, Server, spawnServer } from "./serverProcess.js"

/** A stand-in for packages/console/dist: an index.html and one hashed asset. */
const fakeConsole = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = mkdtempSync(join(tmpdir(), "redrive-console-dist-"))
    mkdirSync(join(dir, "assets"))
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>console</title><div id=root></div>")
    writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log('console')")
    return dir
  }),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const ServerWithConsole = Layer.scoped(
  Server,
  Effect.gen(function*() {
    const info = yield* TestDatabase.TestDatabaseInfo
    const dir = yield* fakeConsole
    return yield* spawnServer(info.url, [], { REDRIVE_CONSOLE_DIR: dir })
  })
)

const TestLayer = Layer.mergeAll(ServerWithConsole, ApiKeys.layer).pipe(Layer.provideMerge(TestDatabase.layer))

const http = (path: string, init: Parameters<typeof request>[2] = {}) => Effect.flatMap(Server, (s) => request(s.baseUrl, path, init))
const headers = (path: string) =>
  Effect.flatMap(Server, (s) => Effect.promise(() => fetch(`${s.baseUrl}${path}`).then((r) => ({ status: r.status, headers: r.headers }))))

const newKey = (name: string, tenant: string | null, access: "write" | "read" = "write") =>
  Effect.map(Effect.flatMap(ApiKeys.ApiKeys, (keys) => keys.create({ name, tenant, access })), (k) => k.secret)

layer(TestLayer, { excludeTestServices: true, timeout: "150 seconds" })("server: the console's routes and data", (it) => {
  it.effect("serves the built console at /, its assets with long cache headers, index.html for client routes, and keeps the API's 404s", () =>
    Effect.gen(function*() {
      const root = yield* http("/")
      assert.strictEqual(root.status, 200)
      assert.include(root.contentType, "text/html")
      assert.include(root.text, "<div id=root>")
      const index = yield* headers("/")
      assert.strictEqual(index.headers.get("cache-control"), "no-cache")
      assert.include(index.headers.get("content-security-policy") ?? "", "default-src 'self'")
      const asset = yield* headers("/assets/index-abc123.js")
      assert.strictEqual(asset.status, 200)
      assert.include(asset.headers.get("content-type") ?? "", "text/javascript")
      assert.strictEqual(asset.headers.get("cache-control"), "public, max-age=31536000, immutable")
      // A client route loads the page; a missing asset, a path outside the bundle and unknown API paths do not.
      const route = yield* http("/dead-letters/42")
      assert.strictEqual(route.status, 200)
      assert.include(route.text, "<div id=root>")
      assert.strictEqual((yield* http("/assets/index-old999.js")).status, 404)
      // Only files the build wrote are served: a path that climbs out of the bundle finds none.
      const climbing = yield* http("/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd")
      assert.notInclude(climbing.text, "root:")
      assert.strictEqual((yield* http("/v1/no-such-thing")).status, 404)
      assert.notInclude((yield* http("/v1/no-such-thing")).text, "<div id=root>")
      assert.strictEqual((yield* http("/openapi.json")).status, 200)
      assert.strictEqual((yield* http("/healthz")).status, 200)
    }))

  it.effect("/v1/stats/queues: queue_health alone, a tenant key's own rows only", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const queue = Factory.queue()
      yield* Factory.insertJob({ tenantId: a, queue })
      yield* Factory.insertJob({ tenantId: b, queue })
      yield* Factory.insertFailureStat({ tenantId: a, queue, deadLettered: 3, failures: 3 })
      const keyA = yield* newKey("queues-a", a, "read")
      const admin = yield* newKey("queues-admin", null)
      type Queues = { queues: ReadonlyArray<{ tenantId: string; queue: string; available: number; deadLettered24h: number }> }
      const mine = (yield* http("/v1/stats/queues", { key: keyA })).json as Queues
      assert.deepStrictEqual(mine.queues.map((q) => [q.tenantId, q.queue, q.available, q.deadLettered24h]), [[a, queue, 1, 3]])
      const all = (yield* http("/v1/stats/queues", { key: admin })).json as Queues
      assert.deepStrictEqual(all.queues.filter((q) => q.queue === queue).map((q) => q.tenantId).sort(), [a, b].sort())
    }))

  it.effect("/v1/session says who the key is: admin or tenant, write or read; no key is a 401", () =>
    Effect.gen(function*() {
      const tenant = Factory.tenant()
      const admin = yield* newKey("session-admin", null)
      const reader = yield* newKey("session-reader", tenant, "read")
      assert.deepStrictEqual((yield* http("/v1/session", { key: admin })).json, { name: "session-admin", tenant: null, access: "write" })
      assert.deepStrictEqual((yield* http("/v1/session", { key: reader })).json, { name: "session-reader", tenant, access: "read" })
      assert.strictEqual((yield* http("/v1/session")).status, 401)
    }))

  it.effect("/v1/stats/timeline: a row per minute, throughput_stat and failure_stat summed; a tenant key sees its own counters and may not name another tenant", () =>
    Effect.gen(function*() {
      const a = Factory.tenant()
      const b = Factory.tenant()
      const sql = yield* SqlClient.SqlClient
      yield* sql`insert into redrive.failure_stat (tenant_id, queue, type, error_class, bucket, failures, dead_lettered, recovered)
                 values (${a}, 'q', 't', 'timeout', date_trunc('minute', now()) - interval '2 minutes', 5, 1, 2),
                        (${b}, 'q', 't', 'timeout', date_trunc('minute', now()) - interval '2 minutes', 7, 3, 0)`
      yield* sql`insert into redrive.throughput_stat (tenant_id, queue, bucket, completed)
                 values (${a}, 'q', date_trunc('minute', now()) - interval '2 minutes', 40),
                        (${a}, 'r', date_trunc('minute', now()) - interval '2 minutes', 2),
                        (${a}, 'q', date_trunc('minute', now()) - interval '30 minutes', 1000),
                        (${b}, 'q', date_trunc('minute', now()) - interval '2 minutes', 900)`
      const keyA = yield* newKey("timeline-a", a)
      const admin = yield* newKey("timeline-admin", null)
      type Timeline = {
        buckets: ReadonlyArray<{ at: string; completed: number; failures: number; deadLettered: number; recovered: number }>
      }
      const mine = (yield* http("/v1/stats/timeline?minutes=10", { key: keyA })).json as Timeline
      assert.strictEqual(mine.buckets.length, 10)
      const minute = mine.buckets[mine.buckets.length - 3]!
      assert.deepStrictEqual([minute.completed, minute.failures, minute.deadLettered, minute.recovered], [42, 5, 1, 2])
      assert.strictEqual(mine.buckets.reduce((n, x) => n + x.failures, 0), 5)
      // The bucket 30 minutes back is outside the 10 asked for; the other tenant's is not mine.
      assert.strictEqual(mine.buckets.reduce((n, x) => n + x.completed, 0), 42)
      const onlyB = (yield* http(`/v1/stats/timeline?minutes=10&tenantId=${b}`, { key: admin })).json as Timeline
      assert.strictEqual(onlyB.buckets.reduce((n, x) => n + x.failures, 0), 7)
      assert.strictEqual(onlyB.buckets.reduce((n, x) => n + x.completed, 0), 900)
      assert.strictEqual((yield* http(`/v1/stats/timeline?tenantId=${b}`, { key: keyA })).status, 403)
      assert.strictEqual((yield* http("/v1/stats/timeline?minutes=0", { key: admin })).status, 400)
    }))

  it.effect("the DLQ listing's reason filter: case-insensitive text, keyset pages, a cursor bound to the text", () =>
    Effect.gen(function*() {
      const tenant = Factory.tenant()
      const queue = Factory.queue()
      const matching = yield* Effect.forEach([1, 2, 3], (i) =>
        Factory.insertDeadLetter({ tenantId: tenant, queue, errorReason: `SMTP 550 Mailbox FULL for user${i}` }))
      yield* Factory.insertDeadLetter({ tenantId: tenant, queue, errorReason: "connection reset" })
      const key = yield* newKey("reason-reader", tenant, "read")
      type Page = { items: ReadonlyArray<{ id: number }>; nextCursor: string | null }
      const first = (yield* http(`/v1/dead-letters?queue=${queue}&reason=mailbox%20full&limit=2`, { key })).json as Page
      assert.strictEqual(first.items.length, 2)
      assert.isNotNull(first.nextCursor)
      const rest = (yield* http(`/v1/dead-letters?queue=${queue}&reason=mailbox%20full&limit=2&cursor=${first.nextCursor}`, { key })).json as Page
      const ids = (xs: ReadonlyArray<{ readonly id: number | string }>) => xs.map((d) => Number(d.id)).sort((x, y) => x - y)
      assert.deepStrictEqual(ids([...first.items, ...rest.items]), ids(matching))
      assert.isNull(rest.nextCursor)
      // The same cursor with another text (or none) is refused, not silently misapplied.
      assert.strictEqual((yield* http(`/v1/dead-letters?queue=${queue}&reason=reset&cursor=${first.nextCursor}`, { key })).status, 400)
      assert.strictEqual((yield* http(`/v1/dead-letters?queue=${queue}&cursor=${first.nextCursor}`, { key })).status, 400)
      // % and _ are plain characters here.
      assert.strictEqual(((yield* http(`/v1/dead-letters?queue=${queue}&reason=%25`, { key })).json as Page).items.length, 0)
    }))

  it.effect("without a built console, / says so (503, how to build it) and the API still answers", () =>
    Effect.gen(function*() {
      const info = yield* TestDatabase.TestDatabaseInfo
      const missing = join(tmpdir(), `redrive-no-console-${process.pid}`)
      const server = yield* spawnServer(info.url, [], { REDRIVE_CONSOLE_DIR: missing })
      const page = yield* request(server.baseUrl, "/")
      assert.strictEqual(page.status, 503)
      assert.include(page.text, "console is not built")
      assert.include(page.text, "@redrive/console build")
      assert.strictEqual((yield* request(server.baseUrl, "/healthz")).status, 200)
      assert.strictEqual((yield* request(server.baseUrl, "/v1/session")).status, 401)
    }).pipe(Effect.scoped))
})
