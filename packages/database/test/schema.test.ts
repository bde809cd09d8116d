import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import * as ErrorHistory from "../src/ErrorHistory.js"
import { JobDlqRepo, layerInsecureDefault } from "../src/JobDlqRepo.js"
import { JobRepo } from "../src/JobRepo.js"
import { TestDatabase } from "../src/testing/index.js"
import { Factory as F } from "../src/testing/index.js"

const Repos = Effect.all({ jobs: JobRepo, dlq: JobDlqRepo })
layer(TestDatabase.layer, { excludeTestServices: true })("schema constraints", (it) => {
  it.effect("a non-array error_history is refused by the CHECK, on job and job_dlq", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const type = F.jobType()
      const onJob = yield* Effect.flip(
        sql`insert into redrive.job (type, error_history) values (${type}, '{"attempt":1}'::jsonb)`
      )
      assert.include(String(onJob.cause), "job_error_history_is_array")
      const onDlq = yield* Effect.flip(
        sql`insert into redrive.job_dlq (job_id, queue, type, payload, priority, max_attempts, error_class, attempts,
              error_history, fingerprint, first_failed_at)
            values (1, 'q', ${type}, '{}', 5, 3, 'unknown', 3, '"text"'::jsonb, 'fp', now())`
      )
      assert.include(String(onDlq.cause), "job_dlq_error_history_is_array")
      const count = yield* sql<{ n: string }>`
        select (select count(*) from redrive.job where type = ${type}) + (select count(*) from redrive.job_dlq where type = ${type}) as n`
      assert.strictEqual(count[0]!.n, "0")
    }))

  it.effect("the repository reports a CHECK violation as a typed DatabaseError naming the constraint", () =>
    Effect.gen(function*() {
      const { jobs } = yield* Repos
      // Valid for the model, refused by the table: a running job must hold a lease.
      const error = yield* Effect.flip(jobs.insert(F.job({ state: "running" })))
      assert.strictEqual(error._tag, "Redrive/DatabaseError")
      if (error._tag === "Redrive/DatabaseError") {
        assert.strictEqual(error.code, "23514")
        assert.strictEqual(error.constraint, "job_running_has_lease")
        assert.strictEqual(error.operation, "JobRepo.insert")
      }
    }).pipe(Effect.provide([JobRepo.Default, layerInsecureDefault])))

  it.effect("bad input is refused before the database with an error naming the field, and nothing is written", () =>
    Effect.gen(function*() {
      const { jobs } = yield* Repos
      const tenantId = F.tenant()
      const error = yield* Effect.flip(jobs.insertMany([F.job({ tenantId }), F.job({ tenantId, maxAttempts: 0 })]))
      assert.strictEqual(error._tag, "Redrive/InvalidRow")
      assert.include(error.message, "maxAttempts")
      const sql = yield* SqlClient.SqlClient
      const count = yield* sql<{ n: string }>`select count(*) as n from redrive.job where tenant_id = ${tenantId}`
      assert.strictEqual(count[0]!.n, "0")
    }).pipe(Effect.provide([JobRepo.Default, layerInsecureDefault])))

  it.effect("states, priorities and the reserved '*' tenant are checked", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const bad = [
        sql`insert into redrive.job (type, state) values ('t', 'done')`,
        sql`insert into redrive.job (type, priority) values ('t', 11)`,
        sql`insert into redrive.job (type, priority) values ('t', 0)`,
        sql`insert into redrive.job (type, tenant_id) values ('t', '*')`,
        sql`insert into redrive.job (type, state) values ('t', 'running')`,
        sql`insert into redrive.control (tenant_id, queue, state, initiated_by) values ('a', '*', 'stopped', 'x')`,
        sql`insert into redrive.replay_request (tenant_id, filter, requested_by) values ('a', '[]', 'x')`,
        sql`insert into redrive.alert_channel (name, kind, url) values ('c', 'email', 'https://x')`
      ]
      for (const statement of bad) {
        const error = yield* Effect.flip(statement)
        assert.strictEqual((error.cause as { code?: string }).code, "23514")
      }
    }))

  it.effect("timestamps round-trip through a JS Date exactly (millisecond columns)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ id: string; createdAt: Date }>`
        insert into redrive.job (type, run_at) values ('t', now() + interval '1.2345678 seconds') returning id, created_at`
      const { createdAt, id } = rows[0]!
      const found = yield* sql<{ id: string }>`select id from redrive.job where created_at = ${createdAt}`
      assert.deepStrictEqual(found.map((r) => r.id), [id])
      const runAt = yield* sql<{ runAt: Date; micros: string }>`
        select run_at, extract(microseconds from run_at)::bigint % 1000 as micros from redrive.job where id = ${id}`
      assert.strictEqual(runAt[0]!.micros, "0")
    }))
})

layer(TestDatabase.layer, { excludeTestServices: true })("redrive.history_append", (it) => {
  const encode = Schema.encodeSync(ErrorHistory.ErrorHistory)
  const decode = Schema.decodeUnknownSync(ErrorHistory.ErrorHistory)
  const entry = F.failedAttempt

  it.effect("keeps the first and the newest entries and counts the dropped ones, like ErrorHistory.append", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      for (const cap of [3, 5]) {
        let inTs: ErrorHistory.ErrorHistory = []
        let inDb: unknown = []
        for (let attempt = 1; attempt <= 12; attempt++) {
          const next = entry(attempt)
          inTs = ErrorHistory.append(inTs, next, cap)
          const [single] = encode([next])
          const rows = yield* sql<{ h: unknown }>`
            select redrive.history_append(${JSON.stringify(inDb)}::jsonb, ${JSON.stringify(single)}::jsonb, ${cap}) as h`
          inDb = rows[0]!.h
          assert.deepStrictEqual(decode(inDb), inTs, `cap ${cap}, attempt ${attempt}`)
        }
        assert.strictEqual(inTs.length, cap)
        assert.deepStrictEqual(inTs[0], entry(1))
        assert.deepStrictEqual(inTs[1], { kind: "dropped", count: 12 - (cap - 1), at: entry(12).at })
        assert.deepStrictEqual(inTs[cap - 1], entry(12))
      }
    }))
})

layer(TestDatabase.layer, { excludeTestServices: true })("redrive.fingerprint", (it) => {
  it.effect("groups errors that differ only in numbers, uuids and hex strings, and splits the rest", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const fp = (type: string, errorClass: string, tag: string, message: string) =>
        Effect.map(
          sql<{ f: string }>`select redrive.fingerprint(${type}, ${errorClass}, ${tag}, ${message}) as f`,
          (rows) => rows[0]!.f
        )
      const a = yield* fp("t", "external_api", "HttpError", "order 123 failed: id 0f8fad5b-d9cb-469f-a165-70867728950e at 0xdeadbeef")
      const b = yield* fp("t", "external_api", "HttpError", "order 987 failed: id 7c9e6679-7425-40de-944b-e07fc1f90ae7 at 0x1f")
      assert.strictEqual(a, b)
      assert.match(a, /^[0-9a-f]{16}$/)
      // Computed as documented: sha256 of "type|class|tag|masked message", first 16 hex digits.
      const expected = createHash("sha256").update("t|external_api|HttpError|order <n> failed: id <uuid> at <hex>")
        .digest("hex").slice(0, 16)
      assert.strictEqual(a, expected)
      for (const other of [
        yield* fp("t", "external_api", "HttpError", "customer missing"),
        yield* fp("u", "external_api", "HttpError", "order 1 failed: id 0f8fad5b-d9cb-469f-a165-70867728950e at 0x1"),
        yield* fp("t", "unknown", "HttpError", "order 1 failed: id 0f8fad5b-d9cb-469f-a165-70867728950e at 0x1"),
        yield* fp("t", "external_api", "Error", "order 1 failed: id 0f8fad5b-d9cb-469f-a165-70867728950e at 0x1")
      ]) assert.notStrictEqual(other, a)
    }))

  it.effect("a message is grouped with its form where numbers, uuids and hex strings are placeholders", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const fp = (message: string) =>
        Effect.map(
          sql<{ f: string }>`select redrive.fingerprint('t', 'external_api', 'HttpError', ${message}) as f`,
          (rows) => rows[0]!.f
        )
      const same: ReadonlyArray<readonly [string, string]> = [
        ["order 123 failed", "order <n> failed"],
        ["order 7 failed", "order 123 failed"],
        ["user 0f8fad5b-d9cb-469f-a165-70867728950e missing", "user <uuid> missing"],
        ["token deadbeefdeadbeef rejected", "token <hex> rejected"],
        ["token deadbeefdeadbeef rejected", "token cafebabecafebabe rejected"],
        ["bad pointer 0x1f at 0xabc", "bad pointer <hex> at <hex>"],
        [`${"x".repeat(500)} first tail`, `${"x".repeat(500)} another tail`]
      ]
      for (const [a, b] of same) assert.strictEqual(yield* fp(a), yield* fp(b), `${a} ~ ${b}`)
      const different: ReadonlyArray<readonly [string, string]> = [
        ["user 0f8fad5b-d9cb-469f-a165-70867728950e missing", "user  missing"],
        ["order 123 failed", "order  failed"],
        [`${"x".repeat(499)}a`, `${"x".repeat(499)}b`]
      ]
      for (const [a, b] of different) assert.notStrictEqual(yield* fp(a), yield* fp(b), `${a} !~ ${b}`)
    }))
})
