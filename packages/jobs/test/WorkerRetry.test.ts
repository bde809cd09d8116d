import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { ErrorHistory } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Duration, Effect, Option, Schema } from "effect"
import * as Classify from "../src/Classify.js"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import { count, eventually, withWorker } from "./workerFixtures.js"

const decodeHistory = Schema.decodeUnknownSync(ErrorHistory.ErrorHistory)

interface Attempted {
  readonly state: string
  readonly attempt: number
  /** The last attempt's error class. */
  readonly errorClass: string
  /** run_at minus the time of the last attempt: the backoff the worker chose. */
  readonly waitMillis: number
}

/** Where a job stands after its last failed attempt: waiting for a retry, or dead-lettered. */
type Standing =
  | { readonly _tag: "Waiting"; readonly job: Attempted }
  | { readonly _tag: "DeadLettered"; readonly attempts: number; readonly errorClass: string }
  | { readonly _tag: "Other"; readonly state: string | undefined }

const standing = (id: number): Effect.Effect<Standing, unknown, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [dead] = yield* sql<{ attempts: number; errorClass: string }>`
      select attempts, error_class from redrive.job_dlq where job_id = ${id}`
    if (dead !== undefined) return { _tag: "DeadLettered", ...dead }
    const [row] = yield* sql<{ state: string; attempt: number; runAt: Date; errorHistory: unknown }>`
      select state, attempt, run_at, error_history from redrive.job where id = ${id}`
    const last = row === undefined ? undefined : decodeHistory(row.errorHistory).at(-1)
    if (row === undefined || row.state !== "available" || last === undefined || last.kind === "dropped") {
      return { _tag: "Other", state: row?.state }
    }
    return {
      _tag: "Waiting",
      job: {
        state: row.state,
        attempt: row.attempt,
        errorClass: last.errorClass,
        waitMillis: row.runAt.getTime() - last.at.getTime()
      }
    }
  })

/** Waits until the job's `attempt`-th attempt has been settled (retried or dead-lettered). */
const afterAttempt = (id: number, attempt: number) =>
  eventually(
    standing(id),
    (s) => s._tag === "DeadLettered" || (s._tag === "Waiting" && s.job.attempt >= attempt)
  )

/** Makes the jobs' retries due now, as if their backoff had elapsed. */
const dueNow = (ids: ReadonlyArray<number>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`update redrive.job set run_at = now() where id = any(${ids}::bigint[]) and state = 'available'`)

/** A job's row after a settle: its attempt, its free waits, and its newest history entry. */
interface Settled {
  readonly state: string
  readonly attempt: number
  readonly freeWaits: number
  readonly entries: number
  readonly last: { readonly kind: string; readonly errorClass: string; readonly attempt: number } | undefined
  /** run_at minus the time of the newest entry. */
  readonly waitMillis: number
}

const settledRow = (id: number): Effect.Effect<Settled | undefined, unknown, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ state: string; attempt: number; freeWaits: number; runAt: Date; errorHistory: unknown }>`
      select state, attempt, free_waits, run_at, error_history from redrive.job where id = ${id}`
    if (row === undefined) return undefined
    const history = decodeHistory(row.errorHistory)
    const last = history.at(-1)
    return {
      state: row.state,
      attempt: row.attempt,
      freeWaits: row.freeWaits,
      entries: history.length,
      last: last === undefined || last.kind === "dropped"
        ? undefined
        : { kind: last.kind, errorClass: last.errorClass, attempt: last.attempt },
      waitMillis: last === undefined ? 0 : row.runAt.getTime() - last.at.getTime()
    }
  })

/** Waits until the job's `n`-th run has been settled back to available. */
const afterRun = (id: number, n: number) =>
  eventually(settledRow(id), (row) => row !== undefined && row.state === "available" && row.entries >= n)

const hour = Duration.toMillis("1 hour")
const tenMinutes = Duration.toMillis("10 minutes")
const classBase = Duration.toMillis("25 minutes")

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("worker retries", (it) => {
  it.effect("an error class's own backoff and max attempts replace the job type's", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({
        name: Factory.unique("class.policy"),
        queue: Factory.queue(),
        payload: Schema.Struct({ external: Schema.Boolean }),
        retry: {
          maxAttempts: 5,
          base: "10 minutes",
          jitter: "none",
          byClass: { external_api: { maxAttempts: 3, backoff: { base: Duration.minutes(25) } } }
        }
      })
      const tenantId = Factory.tenant()
      const [external, other] = Enqueue.ids(yield* Enqueue.many(Def, [{ external: true }, { external: false }], { tenantId }))
      const ids = [external!, other!]
      const handler = JobDefinition.handle(Def, (p) =>
        Effect.fail(
          p.external
            ? new JobErrors.ExternalApiError({ message: "upstream refused", status: 503 })
            : new Error("something else broke")
        ))

      const rounds = yield* withWorker(
        { handlers: [handler] },
        Effect.gen(function*() {
          const seen: Array<readonly [Standing, Standing]> = []
          for (const attempt of [1, 2, 3]) {
            if (attempt > 1) yield* dueNow(ids)
            seen.push([yield* afterAttempt(external!, attempt), yield* afterAttempt(other!, attempt)])
          }
          return seen
        })
      )

      // external_api: 25 minutes doubling (the class's base, the type's factor), dead-lettered after its 3 attempts.
      assert.deepStrictEqual(rounds.map(([e]) => e), [
        { _tag: "Waiting", job: { state: "available", attempt: 1, errorClass: "external_api", waitMillis: classBase } },
        { _tag: "Waiting", job: { state: "available", attempt: 2, errorClass: "external_api", waitMillis: 2 * classBase } },
        { _tag: "DeadLettered", attempts: 3, errorClass: "external_api" }
      ])
      // Any other class: the type's 10 minutes doubling, and still retried after 3 attempts of 5.
      assert.deepStrictEqual(rounds.map(([, o]) => o), [
        { _tag: "Waiting", job: { state: "available", attempt: 1, errorClass: "unknown", waitMillis: tenMinutes } },
        { _tag: "Waiting", job: { state: "available", attempt: 2, errorClass: "unknown", waitMillis: 2 * tenMinutes } },
        { _tag: "Waiting", job: { state: "available", attempt: 3, errorClass: "unknown", waitMillis: 4 * tenMinutes } }
      ])
    }))

  it.effect("the job's own classifier overrides the built-in rules, and the retry decision follows it", () =>
    Effect.gen(function*() {
      const Failure = Schema.Literal("validation", "rate_limit", "timed_out", "external")
      const Def = JobDefinition.make({
        name: Factory.unique("classified"),
        queue: Factory.queue(),
        payload: Schema.Struct({ failure: Failure }),
        retry: { maxAttempts: 5, base: "1 hour", jitter: "none" },
        // Our upstream answers "invalid" when it is overloaded, and a rate limit when the account is closed.
        classify: (error) =>
          error instanceof JobErrors.ValidationError
            ? "external_api"
            : error instanceof JobErrors.RateLimitError
            ? "validation"
            : error instanceof Error && error.message.includes("timed out")
            ? "quota_exceeded"
            : undefined
      })
      const tenantId = Factory.tenant()
      const failures = ["validation", "rate_limit", "timed_out", "external"] as const
      const ids = Enqueue.ids(yield* Enqueue.many(Def, failures.map((failure) => ({ failure })), { tenantId }))
      const handler = JobDefinition.handle(Def, (p): Effect.Effect<void, JobErrors.ClassifiedError | Error> => {
        switch (p.failure) {
          case "validation":
            return Effect.fail(new JobErrors.ValidationError({ message: "invalid request", field: "to" }))
          case "rate_limit":
            return Effect.fail(new JobErrors.RateLimitError({ message: "slow down", retryAfterMillis: 120_000 }))
          case "timed_out":
            return Effect.fail(new Error("request timed out"))
          case "external":
            return Effect.fail(new JobErrors.ExternalApiError({ message: "bad gateway", status: 502 }))
        }
      })

      const outcomes = yield* withWorker(
        { handlers: [handler] },
        Effect.forEach(ids, (id) => afterAttempt(id, 1))
      )

      assert.deepStrictEqual(outcomes, [
        // Built-in: validation, dead-lettered at once. The classifier: external_api, retried.
        { _tag: "Waiting", job: { state: "available", attempt: 1, errorClass: "external_api", waitMillis: hour } },
        // Built-in: rate_limit, retried after its Retry-After. The classifier: validation, never retried.
        { _tag: "DeadLettered", attempts: 1, errorClass: "validation" },
        // Built-in (message heuristic): timeout. The classifier: quota_exceeded, with its 1-minute backoff.
        {
          _tag: "Waiting",
          job: { state: "available", attempt: 1, errorClass: "quota_exceeded", waitMillis: Duration.toMillis("1 minute") }
        },
        // The classifier has no opinion: the built-in rules apply.
        { _tag: "Waiting", job: { state: "available", attempt: 1, errorClass: "external_api", waitMillis: hour } }
      ])
    }))

  it.effect("a 429 waits for its Retry-After without using an attempt, up to the type's cap; then it uses attempts", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const Def = JobDefinition.make({
        name: Factory.unique("rate.limited"),
        queue: Factory.queue(),
        payload: Schema.Struct({}),
        retry: { maxAttempts: 2, base: "1 hour", jitter: "none", rateLimit: { maxWaits: 2 } }
      })
      const tenantId = Factory.tenant()
      const { id } = yield* Enqueue.one(Def, {}, { tenantId })
      // As an HTTP client reports it: a 429 with a Retry-After of ten minutes.
      const tooMany = () => Object.assign(new Error("Too Many Requests"), { status: 429, headers: { "retry-after": "600" } })
      const handler = JobDefinition.handle(Def, () => Effect.fail(tooMany()))

      const runs = yield* withWorker(
        { handlers: [handler] },
        Effect.gen(function*() {
          const seen: Array<Settled | undefined> = []
          for (const run of [1, 2, 3]) {
            if (run > 1) yield* dueNow([id])
            seen.push(yield* afterRun(id, run))
          }
          yield* dueNow([id])
          yield* eventually(count(`redrive.job_dlq where job_id = ${id}`), (n) => n === 1)
          return seen
        })
      )

      assert.deepStrictEqual(runs, [
        // Two free waits: the attempt is given back, run_at honours Retry-After, the wait is recorded.
        {
          state: "available",
          attempt: 0,
          freeWaits: 1,
          entries: 1,
          last: { kind: "waited", errorClass: "rate_limit", attempt: 1 },
          waitMillis: tenMinutes
        },
        {
          state: "available",
          attempt: 0,
          freeWaits: 2,
          entries: 2,
          last: { kind: "waited", errorClass: "rate_limit", attempt: 1 },
          waitMillis: tenMinutes
        },
        // The cap reached: an ordinary failed attempt (still at its Retry-After).
        {
          state: "available",
          attempt: 1,
          freeWaits: 2,
          entries: 3,
          last: { kind: "failed", errorClass: "rate_limit", attempt: 1 },
          waitMillis: tenMinutes
        }
      ])
      // The second failed attempt of two dead-letters it, with the waits in its history.
      const [dead] = yield* sql<{ attempts: number; errorClass: string; errorHistory: unknown }>`
        select attempts, error_class, error_history from redrive.job_dlq where job_id = ${id}`
      assert.deepStrictEqual([dead?.attempts, dead?.errorClass], [2, "rate_limit"])
      assert.deepStrictEqual(
        decodeHistory(dead?.errorHistory).map((e) => (e.kind === "dropped" ? "dropped" : `${e.kind}:${e.attempt}`)),
        ["waited:1", "waited:1", "failed:1", "failed:2"]
      )
      // Every rate-limited call is a failure of its class, waited or not.
      const stats = yield* sql<{ errorClass: string; failures: number; deadLettered: number }>`
        select error_class, sum(failures)::int as failures, sum(dead_lettered)::int as dead_lettered
        from redrive.failure_stat where tenant_id = ${tenantId} group by error_class`
      assert.deepStrictEqual(stats, [{ errorClass: "rate_limit", failures: 4, deadLettered: 1 }])
    }))

  it.effect("a rate limit without a Retry-After waits for the backoff; by default a type has 20 free waits", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({
        name: Factory.unique("rate.backoff"),
        queue: Factory.queue(),
        payload: Schema.Struct({}),
        retry: { maxAttempts: 1, base: "10 minutes", jitter: "none" }
      })
      const { id } = yield* Enqueue.one(Def, {}, { tenantId: Factory.tenant() })
      const handler = JobDefinition.handle(Def, () => Effect.fail(new JobErrors.RateLimitError({ message: "slow down" })))
      const row = yield* withWorker(
        { handlers: [handler] },
        Effect.gen(function*() {
          yield* afterRun(id, 1)
          yield* dueNow([id])
          return yield* afterRun(id, 2)
        })
      )
      // Two waits on a type of one attempt: neither used it. The backoff steps on with each wait.
      assert.deepStrictEqual(row, {
        state: "available",
        attempt: 0,
        freeWaits: 2,
        entries: 2,
        last: { kind: "waited", errorClass: "rate_limit", attempt: 1 },
        waitMillis: 2 * tenMinutes
      })
      assert.strictEqual(Def.retry.rateLimit.maxWaits, 20)
    }))

  it.effect("the worker classifies with the rules in force: a rule added with Classify.withRules runs first", () =>
    Effect.gen(function*() {
      const Def = JobDefinition.make({
        name: Factory.unique("own.rules"),
        queue: Factory.queue(),
        payload: Schema.Struct({}),
        retry: { maxAttempts: 5, base: "1 hour" }
      })
      const { id } = yield* Enqueue.one(Def, {}, { tenantId: Factory.tenant() })
      // Our upstream reports a refused card as a 503 with this code: it is final, not an outage.
      const refused = Classify.rule("cardRefused", (error) =>
        error instanceof Error && "code" in error && error.code === "card_refused" ? Option.some({ errorClass: "validation" }) : Option.none())
      const handler = JobDefinition.handle(Def, () =>
        Effect.fail(Object.assign(new Error("card refused"), { status: 503, code: "card_refused" })))
      const outcome = yield* withWorker({ handlers: [handler] }, afterAttempt(id, 1)).pipe(
        Effect.provide(Classify.withRules((rules) => [refused, ...rules]))
      )
      assert.deepStrictEqual(outcome, { _tag: "DeadLettered", attempts: 1, errorClass: "validation" })
    }))
})
