/**
 * Malformed requests over HTTP and RPC against the `serve` bin: each gets a 4xx with a JSON body
 * naming every problem, and nothing is written (row counts of every table a request could write
 * are the same afterwards). The cases and the responses are written to test/output/bad-input.md.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Layer } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import * as ApiKeys from "../src/auth/ApiKeys.js"
import { request, Server, layer as serverLayer } from "./serverProcess.js"

const TestLayer = Layer.mergeAll(serverLayer, ApiKeys.layer).pipe(Layer.provideMerge(TestDatabase.layer))

interface Case {
  readonly name: string
  readonly method: "GET" | "POST" | "PATCH"
  readonly path: string
  /** A raw body: a string, or bytes (invalid UTF-8). */
  readonly body?: string | Uint8Array
  /** Default application/json when there is a body; null: no header. */
  readonly contentType?: string | null
  /** Default the admin key; "none": no Authorization header. */
  readonly auth?: "admin" | "none" | "empty"
  readonly status: number
  /** Every problem the response must name (issue paths, or the `field` of a typed error). */
  readonly names: ReadonlyArray<string>
}

const rpc = (tag: string, payload: unknown) => JSON.stringify({ _tag: "Request", id: "1", tag, payload, headers: [] })
const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0x72, 0x65, 0x61, 0x73, 0x6f, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]) // {"reason":"<bad>"}
const oversize = JSON.stringify({ reason: "x".repeat(1024 * 1024 + 10) })

const cases = (cursor: { readonly good: string; readonly tampered: string }, dlqId: number): ReadonlyArray<Case> => [
  { name: "negative limit", method: "GET", path: "/v1/dead-letters?limit=-1", status: 400, names: ["limit"] },
  { name: "huge limit", method: "GET", path: "/v1/dead-letters?limit=100000", status: 400, names: ["limit"] },
  { name: "limit not a number", method: "GET", path: "/v1/dead-letters?limit=abc", status: 400, names: ["limit"] },
  { name: "fractional limit", method: "GET", path: "/v1/dead-letters?limit=1.5", status: 400, names: ["limit"] },
  { name: "unknown filter and empty queue", method: "GET", path: "/v1/dead-letters?bogus=1&queue=", status: 400, names: ["bogus", "queue"] },
  { name: "dates that are not dates", method: "GET", path: "/v1/dead-letters?dlqFrom=yesterday&dlqTo=soon", status: 400, names: ["dlqFrom", "dlqTo"] },
  { name: "ids with junk", method: "GET", path: "/v1/dead-letters?ids=1,x,-3", status: 400, names: ["ids.1", "ids.2"] },
  { name: "bad error class, reserved tenant, limit 0", method: "GET", path: "/v1/dead-letters?errorClass=Bad-Class!&tenantId=*&limit=0", status: 400, names: ["errorClass", "tenantId", "limit"] },
  { name: "SQL injection in errorClass", method: "GET", path: `/v1/dead-letters?errorClass=${encodeURIComponent("x'; drop table redrive.job; --")}`, status: 400, names: ["errorClass"] },
  { name: "garbage cursor", method: "GET", path: "/v1/dead-letters?cursor=garbage", status: 400, names: ["cursor"] },
  { name: "tampered cursor", method: "GET", path: `/v1/dead-letters?limit=1&cursor=${encodeURIComponent(cursor.tampered)}`, status: 400, names: ["cursor"] },
  { name: "cursor reused with another filter", method: "GET", path: `/v1/dead-letters?limit=1&queue=other&cursor=${encodeURIComponent(cursor.good)}`, status: 400, names: ["cursor"] },
  { name: "id not a number", method: "GET", path: "/v1/dead-letters/abc", status: 400, names: ["id"] },
  { name: "id zero", method: "GET", path: "/v1/dead-letters/0", status: 400, names: ["id"] },
  { name: "negative id", method: "GET", path: "/v1/dead-letters/-5", status: 400, names: ["id"] },
  { name: "id out of range", method: "GET", path: "/v1/dead-letters/99999999999999999999", status: 400, names: ["id"] },
  { name: "SQL injection in id", method: "GET", path: `/v1/dead-letters/${encodeURIComponent("1;drop table redrive.job_dlq")}`, status: 400, names: ["id"] },
  { name: "invalid JSON", method: "POST", path: `/v1/dead-letters/${dlqId}/replay`, body: "{", status: 400, names: ["body"] },
  { name: "empty requestId and an unknown field", method: "POST", path: `/v1/dead-letters/${dlqId}/replay`, body: JSON.stringify({ requestId: "", extra: true }), status: 400, names: ["requestId", "extra"] },
  { name: "text/plain body", method: "POST", path: "/v1/controls/pause", body: "{}", contentType: "text/plain", status: 415, names: ["header.content-type"] },
  { name: "string body without a content type (fetch sends text/plain)", method: "POST", path: "/v1/controls/pause", body: JSON.stringify({ reason: "x" }), contentType: null, status: 415, names: ["header.content-type"] },
  { name: "form-encoded body", method: "POST", path: "/v1/controls/pause", body: "reason=x", contentType: "application/x-www-form-urlencoded", status: 415, names: ["header.content-type"] },
  { name: "invalid UTF-8", method: "POST", path: "/v1/controls/pause", body: invalidUtf8, status: 400, names: ["body"] },
  { name: "body over the size limit", method: "POST", path: "/v1/controls/pause", body: oversize, status: 413, names: ["body"] },
  { name: "bulk replay without filter", method: "POST", path: "/v1/replays", body: "{}", status: 400, names: ["filter"] },
  { name: "bulk replay: unknown filter, bad id, wrong types", method: "POST", path: "/v1/replays", body: JSON.stringify({ filter: { nope: 1, ids: ["a"] }, dryRun: "yes", ratePerSec: 0 }), status: 400, names: ["filter.nope", "filter.ids.0", "dryRun", "ratePerSec"] },
  { name: "bulk replay: 1001 ids", method: "POST", path: "/v1/replays", body: JSON.stringify({ filter: { ids: Array.from({ length: 1001 }, (_, i) => i + 1) } }), status: 400, names: ["filter.ids"] },
  { name: "bulk replay: id not a UUID", method: "POST", path: "/v1/replays", body: JSON.stringify({ filter: {}, id: "not-a-uuid" }), status: 400, names: ["id"] },
  { name: "bulk replay: dlqTo before dlqFrom", method: "POST", path: "/v1/replays", body: JSON.stringify({ filter: { dlqFrom: "2026-02-01T00:00:00Z", dlqTo: "2026-01-01T00:00:00Z" } }), status: 400, names: ["filter.dlqTo"] },
  { name: "replay status: id not a UUID", method: "GET", path: "/v1/replays/not-a-uuid", status: 400, names: ["id"] },
  { name: "pause without reason", method: "POST", path: "/v1/controls/pause", body: "{}", status: 400, names: ["reason"] },
  { name: "pause: empty reason, queue and numeric tenant", method: "POST", path: "/v1/controls/pause", body: JSON.stringify({ reason: "", queue: "", tenantId: 123 }), status: 400, names: ["reason", "queue", "tenantId"] },
  { name: "pause: an array body", method: "POST", path: "/v1/controls/pause", body: "[]", status: 400, names: [""] },
  { name: "pause: null body", method: "POST", path: "/v1/controls/pause", body: "null", status: 400, names: [""] },
  { name: "cancel: reason over 1000 characters", method: "POST", path: `/v1/jobs/1/cancel`, body: JSON.stringify({ reason: "r".repeat(1001) }), status: 400, names: ["reason"] },
  { name: "retry: id not a number", method: "POST", path: "/v1/jobs/abc/retry", body: "{}", status: 400, names: ["id"] },
  { name: "create key: empty name, reserved tenant, unknown access", method: "POST", path: "/v1/keys", body: JSON.stringify({ name: "", tenant: "*", access: "root" }), status: 400, names: ["name", "tenant", "access"] },
  { name: "mute: negative minutes, missing fingerprint", method: "POST", path: "/v1/error-groups/mute", body: JSON.stringify({ type: "t", errorClass: "x", minutes: -1 }), status: 400, names: ["minutes", "fingerprint"] },
  { name: "error groups: unknown order, limit 0", method: "GET", path: "/v1/error-groups?orderBy=random&limit=0", status: 400, names: ["orderBy", "limit"] },
  { name: "edited payload of a type the server cannot validate", method: "POST", path: `/v1/dead-letters/${dlqId}/replay`, body: JSON.stringify({ payload: { to: 1 } }), status: 422, names: ["type"] },
  { name: "empty bearer token", method: "GET", path: "/v1/dead-letters", auth: "empty", status: 401, names: [] },
  { name: "control events: limit 0, before not an id", method: "GET", path: "/v1/controls/events?limit=0&before=abc", status: 400, names: ["limit", "before"] },
  { name: "control events: unknown parameter, empty queue", method: "GET", path: "/v1/controls/events?bogus=1&queue=", status: 400, names: ["bogus", "queue"] },
  { name: "purge without a filter", method: "POST", path: "/v1/dead-letters/purge", body: "{}", status: 400, names: ["filter"] },
  { name: "purge: an empty filter and no olderThanMs (never everything)", method: "POST", path: "/v1/dead-letters/purge", body: JSON.stringify({ filter: {} }), status: 400, names: ["filter"] },
  { name: "purge: empty queue, olderThanMs 0, dryRun not a boolean", method: "POST", path: "/v1/dead-letters/purge", body: JSON.stringify({ filter: { queue: "" }, olderThanMs: 0, dryRun: "no" }), status: 400, names: ["filter.queue", "olderThanMs", "dryRun"] },
  { name: "alert channel: unknown kind, numeric url, unknown field", method: "POST", path: "/v1/alert-channels", body: JSON.stringify({ name: "x", kind: "pager", url: 5, extra: 1 }), status: 400, names: ["kind", "url", "extra"] },
  { name: "alert channel: a webhook without its signing secret", method: "POST", path: "/v1/alert-channels", body: JSON.stringify({ name: "no-secret", kind: "webhook", url: "https://example.com/hook" }), status: 400, names: ["secret"] },
  { name: "alert channel: an ftp URL", method: "POST", path: "/v1/alert-channels", body: JSON.stringify({ name: "ftp", kind: "slack", url: "ftp://example.com/x" }), status: 400, names: ["url"] },
  { name: "alert channel: minPriority 11", method: "POST", path: "/v1/alert-channels", body: JSON.stringify({ name: "prio", kind: "slack", url: "https://hooks.example.com/x", minPriority: 11 }), status: 400, names: ["minPriority"] },
  { name: "alert channel update: id not a number", method: "PATCH", path: "/v1/alert-channels/abc", body: "{}", status: 400, names: ["id"] },
  { name: "alert channel update: minPriority a string", method: "PATCH", path: "/v1/alert-channels/1", body: JSON.stringify({ minPriority: "high" }), status: 400, names: ["minPriority"] },
  { name: "alert deliveries: unknown state, limit 0", method: "GET", path: "/v1/alert-channels/1/deliveries?state=lost&limit=0", status: 400, names: ["state", "limit"] },
  { name: "alert attempts: id zero", method: "GET", path: "/v1/alert-deliveries/0/attempts", status: 400, names: ["id"] },
  { name: "RPC: alertChannels.create with a numeric kind and nothing else", method: "POST", path: "/rpc", body: rpc("alertChannels.create", { kind: 1 }), status: 400, names: ["payload.name", "payload.kind", "payload.url"] },
  { name: "RPC: dlq.purge with an unknown filter field", method: "POST", path: "/rpc", body: rpc("dlq.purge", { filter: { bogus: 1 } }), status: 400, names: ["payload.filter.bogus"] },
  { name: "RPC: controls.events before 0", method: "POST", path: "/rpc", body: rpc("controls.events", { before: 0 }), status: 400, names: ["payload.before"] },
  { name: "RPC: invalid JSON", method: "POST", path: "/rpc", body: "{\"_tag\":", status: 400, names: ["body"] },
  { name: "RPC: text/plain", method: "POST", path: "/rpc", body: rpc("dlq.list", {}), contentType: "text/plain", status: 415, names: ["header.content-type"] },
  { name: "RPC: unknown procedure", method: "POST", path: "/rpc", body: rpc("dlq.drop", {}), status: 400, names: ["tag"] },
  { name: "RPC: dlq.list with four problems", method: "POST", path: "/rpc", body: rpc("dlq.list", { limit: 0, cursor: "", filter: { queue: "", bogus: 1 } }), status: 400, names: ["payload.limit", "payload.cursor", "payload.filter.queue", "payload.filter.bogus"] },
  { name: "RPC: replay.one with a string id and numeric requestId", method: "POST", path: "/rpc", body: rpc("replay.one", { id: "1", requestId: 5 }), status: 400, names: ["payload.id", "payload.requestId"] },
  { name: "RPC: jobs.cancel missing id", method: "POST", path: "/rpc", body: rpc("jobs.cancel", {}), status: 400, names: ["payload.id"] },
  { name: "RPC: controls.pause wrong types", method: "POST", path: "/rpc", body: rpc("controls.pause", { reason: 7, tenantId: "" }), status: 400, names: ["payload.reason", "payload.tenantId"] },
  { name: "RPC: replay.bulk with bad dates", method: "POST", path: "/rpc", body: rpc("replay.bulk", { filter: { dlqFrom: "x", dlqTo: "y" } }), status: 400, names: ["payload.filter.dlqFrom", "payload.filter.dlqTo"] },
  { name: "RPC: dlq.get id out of range", method: "POST", path: "/rpc", body: rpc("dlq.get", { id: 2 ** 60 }), status: 400, names: ["payload.id"] },
  { name: "RPC: keys.create wrong type", method: "POST", path: "/rpc", body: rpc("keys.create", { name: 3 }), status: 400, names: ["payload.name"] },
  { name: "RPC: a batch with one bad request runs none", method: "POST", path: "/rpc", body: `[${rpc("controls.pause", { reason: "batch" })},${rpc("controls.pause", { reason: "" })}]`, status: 400, names: ["1.payload.reason"] },
  { name: "RPC: a message that is not an object", method: "POST", path: "/rpc", body: "42", status: 400, names: ["_tag"] },
  { name: "RPC: invalid UTF-8", method: "POST", path: "/rpc", body: invalidUtf8, status: 400, names: ["body"] },
  { name: "RPC: body over the size limit", method: "POST", path: "/rpc", body: oversize, status: 413, names: ["body"] }
]

/** Every table a request could write, counted. */
const counts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ name: string; n: string }>`
    select 'job' as name, count(*) as n from redrive.job union all
    select 'job_dlq', count(*) from redrive.job_dlq union all
    select 'job_dlq replayed', count(*) from redrive.job_dlq where replayed_at is not null union all
    select 'control', count(*) from redrive.control union all
    select 'control_event', count(*) from redrive.control_event union all
    select 'replay_request', count(*) from redrive.replay_request union all
    select 'api_key', count(*) from redrive.api_key union all
    select 'dlq_group_mute', count(*) from redrive.dlq_group_mute union all
    select 'alert_delivery', count(*) from redrive.alert_delivery union all
    select 'alert_channel', count(*) from redrive.alert_channel union all
    select 'alert_channel_event', count(*) from redrive.alert_channel_event union all
    select 'dlq_purge', count(*) from redrive.dlq_purge union all
    select 'cluster_messages', count(*) from public.cluster_messages`
).pipe(Effect.map((rows) => Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]))))

const problemsNamed = (json: unknown): ReadonlyArray<string> => {
  if (typeof json !== "object" || json === null) return []
  if ("issues" in json && Array.isArray(json.issues)) {
    return json.issues.map((i: unknown) => (typeof i === "object" && i !== null && "path" in i ? String(i.path) : ""))
  }
  // A typed error names its field (`field: "cursor"`) or the offending job type (`type`).
  return [
    ...("field" in json ? [String(json.field)] : []),
    ...("type" in json ? ["type"] : [])
  ]
}

layer(TestLayer, { excludeTestServices: true, timeout: "150 seconds" })("bad input", (it) => {
  it.effect("71 malformed requests over HTTP and RPC: a 4xx naming every problem, and nothing written", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const admin = yield* Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "bad-input-admin" }))
      const tenant = Factory.tenant()
      const queue = Factory.queue()
      const seeded = yield* Effect.all([1, 2, 3].map(() => Factory.insertDeadLetter({ tenantId: tenant, queue, type: Factory.jobType("unregistered.type") })))
      const first = yield* request(server.baseUrl, `/v1/dead-letters?limit=1&queue=${queue}`, { key: admin.secret })
      const good = (first.json as { nextCursor: string }).nextCursor
      assert.isString(good)
      const tampered = good.slice(0, -2) + (good.endsWith("AA") ? "BB" : "AA")
      const table = cases({ good, tampered }, seeded[0]!.id)
      assert.isAtLeast(table.length, 40)

      const before = yield* counts
      const results: Array<{ readonly c: Case; readonly status: number; readonly text: string; readonly named: ReadonlyArray<string> }> = []
      for (const c of table) {
        const headers: Record<string, string> = {}
        if (c.body !== undefined && c.contentType !== null) headers["content-type"] = c.contentType ?? "application/json"
        if ((c.auth ?? "admin") === "admin") headers["authorization"] = `Bearer ${admin.secret}`
        if (c.auth === "empty") headers["authorization"] = "Bearer "
        const response = yield* request(server.baseUrl, c.path, {
          method: c.method,
          headers,
          ...(c.body !== undefined ? { body: c.body } : {})
        })
        results.push({ c, status: response.status, text: response.text, named: problemsNamed(response.json) })
      }
      const after = yield* counts

      mkdirSync(new URL("./output/", import.meta.url), { recursive: true })
      const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ").slice(0, 400)
      writeFileSync(
        new URL("./output/bad-input.md", import.meta.url),
        [
          `# Bad input: ${results.length} malformed requests (${results.filter((r) => r.c.path === "/rpc").length} over RPC)`,
          "",
          "| # | case | request | status | response |",
          "|---|---|---|---|---|",
          ...results.map((r, i) =>
            `| ${i + 1} | ${cell(r.c.name)} | ${r.c.method} ${cell(r.c.path.length > 80 ? r.c.path.slice(0, 80) + "…" : r.c.path)} | ${r.status} | ${cell(r.text)} |`
          ),
          "",
          `Row counts before: ${JSON.stringify(before)}`,
          `Row counts after:  ${JSON.stringify(after)}`
        ].join("\n") + "\n"
      )

      const failures = results.flatMap(({ c, named, status, text }) => {
        const missing = c.names.filter((n) => !named.includes(n))
        return status !== c.status || missing.length > 0 || !text.startsWith("{")
          ? [`${c.name}: expected ${c.status} naming [${c.names.join(", ")}], got ${status} naming [${named.join(", ")}]: ${text.slice(0, 300)}`]
          : []
      })
      assert.deepStrictEqual(failures, [])
      assert.deepStrictEqual(after, before)
    }))
})
