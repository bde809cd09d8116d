import { assert, describe, it } from "@effect/vitest"
import { HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Cause, Effect, Exit, FiberId, Option, Random, Schema } from "effect"
import * as Classify from "../src/Classify.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import { decide } from "../src/Outcome.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as Verdict from "../src/Verdict.js"

const Def = JobDefinition.make({ name: "t", payload: Schema.Unknown, retry: { maxAttempts: 5, base: "1 second", factor: 2, max: "10 seconds" } })
const job = (attempt: number) => ({ id: 1, type: "t", attempt, maxAttempts: 5 })

describe("retry policy", () => {
  it("exponential backoff with full jitter stays within [0, min(max, base·factor^(n-1))]", () => {
    const policy = RetryPolicy.make({ base: "1 second", factor: 2, max: "10 seconds" })
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(10_000, 1000 * 2 ** (attempt - 1))
      assert.strictEqual(RetryPolicy.ceiling(policy.backoff, attempt), ceiling)
      assert.strictEqual(RetryPolicy.delayMillis(policy, "unknown", attempt, 0), 0)
      assert.strictEqual(RetryPolicy.delayMillis(policy, "unknown", attempt, 0.999999), Math.round(0.999999 * ceiling))
      for (let i = 0; i < 200; i++) {
        const d = RetryPolicy.delayMillis(policy, "unknown", attempt, Math.random())
        assert.isTrue(d >= 0 && d <= ceiling, `attempt ${attempt}: ${d}`)
      }
    }
    const equal = RetryPolicy.make({ base: "1 second", jitter: "equal" })
    assert.strictEqual(RetryPolicy.delayMillis(equal, "unknown", 1, 0), 500)
    const none = RetryPolicy.make({ base: "1 second", jitter: "none" })
    assert.strictEqual(RetryPolicy.delayMillis(none, "unknown", 3, 0.3), 4000)
  })

  it.effect("jitter draws from Effect's Random, so a seeded run is reproducible", () =>
    Effect.gen(function*() {
      const draw = Effect.map(Random.next, (r) => RetryPolicy.delayMillis(RetryPolicy.defaultPolicy, "unknown", 4, r))
      const a = yield* Effect.withRandom(Random.make("seed"))(Effect.all([draw, draw, draw]))
      const b = yield* Effect.withRandom(Random.make("seed"))(Effect.all([draw, draw, draw]))
      assert.deepStrictEqual(a, b)
    }))

  it("class overrides: validation is not retried, quota backs off from a minute, custom rules apply", () => {
    const policy = RetryPolicy.make({ maxAttempts: 5, byClass: { external_api: { maxAttempts: 8 } } })
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "validation", 5), 0)
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "external_api", 5), 8)
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "unknown", 5), 5)
    assert.strictEqual(RetryPolicy.ceiling({ ...policy.backoff, ...policy.byClass["quota_exceeded"]!.backoff }, 1), 60_000)
    assert.throws(() => RetryPolicy.make({ maxAttempts: 0 }))
  })
})

describe("decide", () => {
  const base = { definition: Def, workerId: "w", now: 1_000_000, durationMs: 5, random: 0.5 }

  it("retries an unknown error with backoff, then dead-letters at max attempts", () => {
    const retried = decide({ ...base, job: job(2), exit: Exit.fail(new Error("boom")) })
    assert.strictEqual(retried._tag, "Retried")
    if (retried._tag === "Retried") {
      assert.strictEqual(retried.runAt.getTime(), 1_000_000 + 1000)
      assert.strictEqual(retried.errorClass, "unknown")
      assert.strictEqual(retried.entry.nextRunAt?.getTime(), retried.runAt.getTime())
    }
    assert.strictEqual(decide({ ...base, job: job(5), exit: Exit.fail(new Error("boom")) })._tag, "DeadLettered")
  })

  it("verdicts override the policy; a snooze is not a failure", () => {
    const snoozed = decide({ ...base, job: job(1), exit: Exit.fail(Verdict.snooze("30 seconds")) })
    assert.strictEqual(snoozed._tag, "Snoozed")
    if (snoozed._tag === "Snoozed") assert.strictEqual(snoozed.runAt.getTime(), 1_030_000)
    assert.strictEqual(decide({ ...base, job: job(1), exit: Exit.fail(Verdict.discard("x")) })._tag, "Discarded")
    assert.strictEqual(decide({ ...base, job: job(1), exit: Exit.fail(Verdict.deadLetterNow("x")) })._tag, "DeadLettered")
    const at = new Date(2_000_000)
    const retryAt = decide({ ...base, job: job(1), exit: Exit.fail(Verdict.retryAt(at)) })
    assert.strictEqual(retryAt._tag === "Retried" ? retryAt.runAt.getTime() : 0, 2_000_000)
    assert.strictEqual(decide({ ...base, job: job(1), exit: Exit.failCause(Cause.interrupt(FiberId.none)) })._tag, "Released")
  })
})

describe("classification", () => {
  const none = { classify: () => Option.none<string>() }
  const classify = (e: unknown) => Classify.classifyError(e, none, false, 0).errorClass
  const response = (status: number, headers: Record<string, string> = {}) =>
    new HttpClientError.ResponseError({
      request: HttpClientRequest.get("http://127.0.0.1/x"),
      response: HttpClientResponse.fromWeb(HttpClientRequest.get("http://127.0.0.1/x"), new Response(null, { status, headers })),
      reason: "StatusCode"
    })

  it("maps Redrive's tagged errors, HTTP statuses, timeouts and parse errors", () => {
    assert.strictEqual(classify(new JobErrors.QuotaExceededError({ message: "q" })), "quota_exceeded")
    assert.strictEqual(classify(new JobErrors.ExternalApiError({ message: "e" })), "external_api")
    assert.strictEqual(classify(response(503)), "external_api")
    assert.strictEqual(classify(response(404)), "validation")
    const limited = Classify.classifyError(response(429, { "retry-after": "7" }), none, false, 0)
    assert.strictEqual(limited.errorClass, "rate_limit")
    assert.strictEqual(limited.retryAfterMillis, 7000)
    assert.strictEqual(classify(new Cause.TimeoutException()), "timeout")
    const parse = Effect.runSync(Effect.flip(Schema.decodeUnknown(Schema.Number)("x")))
    assert.strictEqual(classify(parse), "validation")
  })

  it("uses message heuristics last, and leaves the unrecognised as unknown (retried)", () => {
    assert.strictEqual(classify(new Error("connect ECONNREFUSED 127.0.0.1:443")), "external_api")
    assert.strictEqual(classify(new Error("Too Many Requests")), "rate_limit")
    assert.strictEqual(classify(new Error("request timed out")), "timeout")
    assert.strictEqual(classify(new Error("something odd")), "unknown")
    assert.strictEqual(classify("a string"), "unknown")
  })

  it("the job's own classifier runs first", () => {
    const own = { classify: (e: unknown) => (e instanceof RangeError ? Option.some("quota_exceeded") : Option.none()) }
    assert.strictEqual(Classify.classifyError(new RangeError("over"), own, false, 0).errorClass, "quota_exceeded")
    assert.strictEqual(Classify.classifyCause(Cause.die(new TypeError("bug")), none, 0).defect, true)
    assert.strictEqual(Classify.parseRetryAfter("Wed, 21 Oct 2026 07:28:00 GMT", Date.parse("Wed, 21 Oct 2026 07:27:00 GMT")), 60_000)
  })
})
