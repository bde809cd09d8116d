import { assert, describe, it } from "@effect/vitest"
import { HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Cause, Effect, Option, Schema } from "effect"
import * as Classify from "../src/Classify.js"
import * as JobErrors from "../src/JobErrors.js"

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
