import { assert, describe, it } from "@effect/vitest"
import { HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Cause, Effect, FiberId, Option, Schema } from "effect"
import * as Classify from "../src/Classify.js"
import { chain } from "../src/internal/errorFacts.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import * as Limits from "../src/Limits.js"

const none = { classify: () => Option.none<string>() }
const classify = (e: unknown) => Classify.classifyError(e, none, false, 0).errorClass
const response = (status: number, headers: Record<string, string> = {}) =>
  new HttpClientError.ResponseError({
    request: HttpClientRequest.get("http://127.0.0.1/x"),
    response: HttpClientResponse.fromWeb(HttpClientRequest.get("http://127.0.0.1/x"), new Response(null, { status, headers })),
    reason: "StatusCode"
  })

describe("classification", () => {

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

describe("error classes", () => {
  it("each of Redrive's tagged errors files under its class; a timeout class is a timeout attempt", () => {
    const cases: ReadonlyArray<readonly [unknown, string, "failed" | "timeout"]> = [
      [new JobErrors.TimeoutError({ message: "slow" }), "timeout", "timeout"],
      [new JobErrors.ValidationError({ message: "bad" }), "validation", "failed"],
      [new JobErrors.ExternalApiError({ message: "down" }), "external_api", "failed"],
      [new JobErrors.QuotaExceededError({ message: "spent" }), "quota_exceeded", "failed"],
      [new JobErrors.RateLimitError({ message: "slow down" }), "rate_limit", "failed"],
      [new JobDefinition.PayloadDecodeError({ message: "schema changed" }), "validation", "failed"],
      [new Cause.TimeoutException(), "timeout", "timeout"]
    ]
    for (const [error, errorClass, kind] of cases) {
      const classification = Classify.classifyError(error, none, false, 0)
      assert.deepStrictEqual([classification.errorClass, classification.kind], [errorClass, kind], String(error))
    }
  })

  it("a tagged error is recognised by its tag, also as a plain object (decoded from the wire)", () => {
    const classification = Classify.classifyError({ _tag: "Redrive/ValidationError", message: "missing field" }, none, false, 0)
    assert.strictEqual(classification.errorClass, "validation")
    assert.strictEqual(classification.tag, "Redrive/ValidationError")
    assert.strictEqual(classification.message, "missing field")
  })

  it("a rate limit error's own retry time is kept, and absent when it names none", () => {
    const timed = Classify.classifyError(new JobErrors.RateLimitError({ message: "slow down", retryAfterMillis: 5000 }), none, false, 0)
    assert.strictEqual(timed.retryAfterMillis, 5000)
    const untimed = Classify.classifyError(new JobErrors.RateLimitError({ message: "slow down" }), none, false, 0)
    assert.isFalse("retryAfterMillis" in untimed)
    const quota = Classify.classifyError({ _tag: "Redrive/QuotaExceededError", message: "q", retryAfterMillis: "soon" }, none, false, 0)
    assert.isFalse("retryAfterMillis" in quota)
  })

  it("the job's own classifier runs before Redrive's tagged errors and HTTP statuses", () => {
    const own = { classify: (e: unknown) => (e instanceof Error ? Option.some("billing") : Option.none()) }
    const validation = Classify.classifyError(new JobErrors.ValidationError({ message: "bad" }), own, false, 0)
    assert.deepStrictEqual([validation.errorClass, validation.kind], ["billing", "failed"])
    assert.strictEqual(Classify.classifyError(response(429, { "retry-after": "7" }), own, false, 0).retryAfterMillis, undefined)
    const ownTimeout = { classify: () => Option.some("timeout") }
    assert.strictEqual(Classify.classifyError(new Error("x"), ownTimeout, false, 0).kind, "timeout")
  })
})

describe("HTTP responses", () => {
  it("5xx is an external API failure, other 4xx is bad input, and other statuses fall through to the message", () => {
    assert.strictEqual(classify(response(500)), "external_api")
    assert.strictEqual(classify(response(501)), "external_api")
    assert.strictEqual(classify(response(599)), "external_api")
    assert.strictEqual(classify(response(400)), "validation")
    assert.strictEqual(classify(response(499)), "validation")
    assert.strictEqual(classify(response(304)), "unknown")
  })

  it("a request that never got a response is an external API failure", () => {
    const request = HttpClientRequest.get("http://127.0.0.1/x")
    assert.strictEqual(classify(new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("refused") })), "external_api")
  })

  it("429 honours Retry-After, and carries no retry time without one", () => {
    const limited = Classify.classifyError(response(429, { "retry-after": "120" }), none, false, 0)
    assert.deepStrictEqual([limited.errorClass, limited.retryAfterMillis], ["rate_limit", 120_000])
    const bare = Classify.classifyError(response(429), none, false, 0)
    assert.strictEqual(bare.errorClass, "rate_limit")
    assert.isFalse("retryAfterMillis" in bare)
  })
})

describe("Retry-After", () => {
  const now = Date.parse("2026-11-23T10:00:00.000Z")

  it("reads seconds, rounded to the millisecond, never negative", () => {
    assert.strictEqual(Classify.parseRetryAfter("7", now), 7000)
    assert.strictEqual(Classify.parseRetryAfter("1.5", now), 1500)
    assert.strictEqual(Classify.parseRetryAfter("0.0004", now), 0)
    assert.strictEqual(Classify.parseRetryAfter("-3", now), 0)
  })

  it("reads an HTTP date as the time left until it, zero once it has passed", () => {
    assert.strictEqual(Classify.parseRetryAfter("Mon, 23 Nov 2026 10:01:30 GMT", now), 90_000)
    assert.strictEqual(Classify.parseRetryAfter("Mon, 23 Nov 2026 09:59:00 GMT", now), 0)
  })

  it("an absent, blank or unreadable header asks for nothing", () => {
    assert.strictEqual(Classify.parseRetryAfter(undefined, now), undefined)
    assert.strictEqual(Classify.parseRetryAfter("", now), undefined)
    assert.strictEqual(Classify.parseRetryAfter("   ", now), undefined)
    assert.strictEqual(Classify.parseRetryAfter("soon", now), undefined)
  })
})

describe("message heuristics", () => {
  it("recognise timeouts, rate limits, quotas and unreachable services in any wording the rules name", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["request timed out", "timeout"],
      ["request timedout", "timeout"],
      ["connection time out", "timeout"],
      ["read ETIMEDOUT", "timeout"],
      ["rpc deadline exceeded", "timeout"],
      ["ratelimit hit", "rate_limit"],
      ["rate limit exceeded", "rate_limit"],
      ["rate-limited by upstream", "rate_limit"],
      ["got a 429", "rate_limit"],
      ["monthly quota reached", "quota_exceeded"],
      ["insufficient_quota", "quota_exceeded"],
      ["usage limit reached", "quota_exceeded"],
      ["upstream answered 502", "external_api"],
      ["upstream answered 503", "external_api"],
      ["upstream answered 504", "external_api"],
      ["socket hang up", "external_api"],
      ["getaddrinfo EAI_AGAIN api.example.com", "external_api"],
      ["upstream answered 501", "unknown"]
    ]
    for (const [message, errorClass] of cases) assert.strictEqual(classify(new Error(message)), errorClass, message)
  })
})

describe("what a failure records", () => {
  it("an Error is recorded by its name and message; a string by itself", () => {
    const error = Classify.classifyError(new RangeError("index 7 out of range"), none, false, 0)
    assert.deepStrictEqual([error.tag, error.message], ["RangeError", "index 7 out of range"])
    const text = Classify.classifyError("plain text failure", none, false, 0)
    assert.deepStrictEqual([text.tag, text.message], ["string", "plain text failure"])
  })

  it("a value without a usable message is recorded as JSON, or as text when JSON cannot hold it", () => {
    const recorded = (error: unknown) => {
      const c = Classify.classifyError(error, none, false, 0)
      return [c.tag, c.message]
    }
    assert.deepStrictEqual(recorded({ code: 7 }), ["object", `{"code":7}`])
    assert.deepStrictEqual(recorded({ _tag: "Odd", message: "" }), ["Odd", `{"_tag":"Odd","message":""}`])
    assert.deepStrictEqual(recorded({ message: ["a"] }), ["object", `{"message":["a"]}`])
    assert.deepStrictEqual(recorded(null), ["object", "null"])
    assert.deepStrictEqual(recorded(undefined), ["undefined", "undefined"])
    assert.deepStrictEqual(recorded(10n), ["bigint", "10"])
    const circular: Record<string, unknown> = {}
    circular["self"] = circular
    assert.deepStrictEqual(recorded(circular), ["object", "[object Object]"])
  })

  it("a classification keeps the failure and whether it was a defect", () => {
    const error = new Error("boom")
    const classification = Classify.classifyError(error, none, true, 0)
    assert.deepStrictEqual(classification, { tag: "Error", message: "boom", defect: true, error, kind: "failed", errorClass: "unknown" })
  })
})

describe("classifyCause", () => {
  it("classifies the first failure of a cause as a failure, not a defect", () => {
    const cause = Cause.sequential(Cause.fail(new JobErrors.ValidationError({ message: "bad" })), Cause.die(new Error("later")))
    const classification = Classify.classifyCause(cause, none, 0)
    assert.deepStrictEqual([classification.errorClass, classification.message, classification.defect], ["validation", "bad", false])
  })

  it("without a failure, classifies the defect", () => {
    const classification = Classify.classifyCause(Cause.die(new TypeError("x is undefined")), none, 0)
    assert.deepStrictEqual([classification.tag, classification.message, classification.defect], ["TypeError", "x is undefined", true])
  })

  it("with neither, classifies the cause's rendering as a defect", () => {
    const cause = Cause.interrupt(FiberId.make(1, 0))
    const classification = Classify.classifyCause(cause, none, 0)
    assert.deepStrictEqual([classification.tag, classification.message, classification.defect], ["Error", Cause.pretty(cause), true])
  })
})

describe("stackOf", () => {
  const stackOf = (error: unknown, maxBytes = Limits.defaults.stackBytes) =>
    Classify.stackOf(Classify.classifyError(error, none, false, 0), maxBytes)
  const withStack = (stack: string) => Object.assign(new Error("x"), { stack })
  const frames = (n: number) => Array.from({ length: n }, (_, i) => `    at frame${i} (file.ts:${i}:1)`)

  it("keeps a short stack as it is", () => {
    const stack = ["Error: x", ...frames(11)].join("\n")
    assert.strictEqual(stackOf(withStack(stack)), stack)
  })

  it("keeps the top 12 lines of a longer stack and marks the cut", () => {
    const lines = ["Error: x", ...frames(30)]
    assert.strictEqual(stackOf(withStack(lines.join("\n"))), `${lines.slice(0, 12).join("\n")}\n    …`)
    assert.strictEqual(stackOf(withStack(lines.slice(0, 13).join("\n"))), `${lines.slice(0, 12).join("\n")}\n    …`)
  })

  it("cuts a stack at its byte limit, on a character boundary, and marks the cut", () => {
    const exact = "é".repeat(32)
    assert.strictEqual(stackOf(withStack(exact), 64), exact)
    // 64 bytes less the 14 of the marker leave 50: "E" and 24 "é" (49), not half of a 25th.
    assert.strictEqual(stackOf(withStack(`E${"é".repeat(40)}\n    at f`), 64), `E${"é".repeat(24)}${Limits.truncatedMarker}`)
  })

  it("reads a stack carried by a non-Error value, and none when there is no text stack", () => {
    assert.strictEqual(stackOf({ _tag: "Remote", stack: "Remote: x\n    at server" }), "Remote: x\n    at server")
    assert.strictEqual(stackOf({ _tag: "Remote", stack: { frames: [] } }), undefined)
    assert.strictEqual(stackOf("text"), undefined)
    assert.strictEqual(stackOf(Object.assign(new Error("x"), { stack: undefined })), undefined)
  })
})

describe("the rules in force", () => {
  const timedOut = Classify.rule("timedOut", (e) => (e === "slow" ? Option.some({ errorClass: "timeout" }) : Option.none()))

  it("a list of named rules: add one, drop one, reorder them", () => {
    assert.strictEqual(Classify.classifyError("slow", none, false, 0, [timedOut, ...Classify.rules]).errorClass, "timeout")
    const withoutHeuristics = Classify.rules.filter((r) => r.name !== "messageHeuristics")
    assert.strictEqual(Classify.classifyError(new Error("request timed out"), none, false, 0, withoutHeuristics).errorClass, "unknown")
    // The status before the tagged errors: a Redrive error carrying a status files under the status.
    const statusFirst = [...Classify.rules].sort((a) => (a.name === "httpStatus" ? -1 : 0))
    const error = new JobErrors.ExternalApiError({ message: "refused", status: 400 })
    assert.strictEqual(Classify.classifyError(error, none, false, 0).errorClass, "external_api")
    assert.strictEqual(Classify.classifyError(error, none, false, 0, statusFirst).errorClass, "validation")
    assert.deepStrictEqual(Classify.factsOf("slow", 0, [timedOut]), { errorClass: "timeout" })
    assert.isUndefined(Classify.factsOf("fast", 0, [timedOut]))
  })

  it("Rules is the built-in list unless a layer provides another; withRules builds on the one in force", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Classify.Rules, Classify.rules)
      assert.strictEqual(Classify.Rules.key, "@redrive/jobs/Classify/Rules")
      const added = yield* Effect.provide(Classify.Rules, Classify.withRules((rules) => [timedOut, ...rules]))
      assert.deepStrictEqual(added.map((r) => r.name), ["timedOut", ...Classify.rules.map((r) => r.name)])
      const twice = yield* Classify.Rules.pipe(
        Effect.provide(Classify.withRules((rules) => rules.slice(1))),
        Effect.provideService(Classify.Rules, [timedOut, timedOut])
      )
      assert.deepStrictEqual(twice.map((r) => r.name), ["timedOut"])
    }).pipe(Effect.runSync))

  it("a rule that throws is passed over, and the next rules still apply", () => {
    const broken = Classify.rule("broken", () => {
      throw new Error("bug in a rule")
    })
    assert.strictEqual(Classify.classifyError({ status: 503 }, none, false, 0, [broken, ...Classify.rules]).errorClass, "external_api")
  })

  it("each rule is tried on the error and its causes before the next rule: a fact in a cause beats a word on the surface", () => {
    const wrapped = new Error("sync timed out", { cause: Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" }) })
    assert.strictEqual(classify(wrapped), "external_api")
    // The recorded failure is still the outer error.
    assert.deepStrictEqual([Classify.classifyError(wrapped, none, false, 0).message], ["sync timed out"])
  })
})

describe("causes", () => {
  const nested = (depth: number, innermost: unknown): unknown =>
    depth === 0 ? innermost : new Error(`level ${depth}`, { cause: nested(depth - 1, innermost) })
  const refused = () => Object.assign(new Error("x"), { code: "ECONNREFUSED" })

  it("are followed five levels deep", () => {
    assert.strictEqual(classify(nested(5, refused())), "external_api")
    assert.strictEqual(classify(nested(6, refused())), "unknown")
  })

  it("a cycle is followed once", () => {
    const a: Error & { cause?: unknown } = new Error("a")
    const b = new Error("b", { cause: a })
    a.cause = b
    assert.strictEqual(classify(a), "unknown")
    const self: Error & { cause?: unknown } = new Error("self")
    self.cause = self
    assert.strictEqual(classify(self), "unknown")
  })

  it("an AggregateError's first eight errors are looked at, sixteen values in all", () => {
    const quiet = () => new Error("quiet")
    assert.strictEqual(classify(new AggregateError([...Array.from({ length: 7 }, quiet), refused()])), "external_api")
    assert.strictEqual(classify(new AggregateError([...Array.from({ length: 8 }, quiet), refused()])), "unknown")
    assert.strictEqual(classify({ name: "AggregateError", errors: [refused()] }), "external_api")
    // `errors` of anything else is data, not causes.
    assert.strictEqual(classify({ name: "BulkWriteError", errors: [refused()] }), "unknown")
    const wide = new AggregateError(Array.from({ length: 8 }, () => new AggregateError(Array.from({ length: 8 }, quiet))))
    const deepest = new Error("outer", { cause: wide })
    assert.strictEqual(classify(new Error("top", { cause: deepest })), "unknown")
    const late = new AggregateError([new AggregateError([...Array.from({ length: 7 }, quiet), refused()]), ...Array.from({ length: 7 }, quiet)])
    assert.strictEqual(classify(late), "unknown")
    const early = new AggregateError([new AggregateError([refused()]), ...Array.from({ length: 7 }, quiet)])
    assert.strictEqual(classify(early), "external_api")
    // Past sixteen values the walk stops, and what it found still counts.
    const crowded = new AggregateError([refused(), ...Array.from({ length: 7 }, () => new AggregateError(Array.from({ length: 8 }, quiet)))])
    assert.strictEqual(chain(crowded).length, 16)
    assert.strictEqual(classify(crowded), "external_api")
  })

  it("each object is looked at once, whatever the cycles", () => {
    const a: Error & { cause?: unknown } = new Error("a")
    const b = new Error("b", { cause: a })
    a.cause = b
    assert.deepStrictEqual(chain(a), [a, b])
    const self: Error & { cause?: unknown } = new Error("self")
    self.cause = self
    assert.deepStrictEqual(chain(self), [self])
    const shared = new Error("shared")
    const both = new AggregateError([shared, shared, new Error("other", { cause: shared })])
    assert.strictEqual(chain(both).length, 3)
    assert.deepStrictEqual(chain("text"), ["text"])
  })

  it("values that are not objects are not followed", () => {
    assert.strictEqual(classify(new Error("x", { cause: "ECONNREFUSED timed out" })), "unknown")
    assert.strictEqual(classify(new Error("x", { cause: null })), "unknown")
  })
})
