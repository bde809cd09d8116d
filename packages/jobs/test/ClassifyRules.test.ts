import { HttpClientError, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import * as Classify from "../src/Classify.js"
import * as ClassifyRules from "../src/ClassifyRules.js"
import * as JobErrors from "../src/JobErrors.js"

const now = Date.parse("2026-11-23T10:00:00.000Z")
const none = { classify: () => Option.none<string>() }
const classify = (error: unknown) => Classify.classifyError(error, none, false, now).errorClass
/** The facts one rule alone finds in the error itself (not its causes). */
const facts = (rule: Classify.Rule, error: unknown) => Option.getOrUndefined(rule.classify(error, now))
const wait = (error: unknown) => Classify.classifyError(error, none, false, now).retryAfterMillis
const withCode = (code: string, extra: object = {}) => Object.assign(new Error("x"), { code }, extra)

describe("typed: the class travels with the error's type", () => {
  it("each Redrive error type declares its class", () => {
    assert.deepStrictEqual(
      JobErrors.classified.map((type) => [type._tag, type.errorClass]),
      [
        ["Redrive/TimeoutError", "timeout"],
        ["Redrive/ValidationError", "validation"],
        ["Redrive/ExternalApiError", "external_api"],
        ["Redrive/QuotaExceededError", "quota_exceeded"],
        ["Redrive/RateLimitError", "rate_limit"],
        ["Redrive/PayloadDecodeError", "validation"]
      ]
    )
  })

  it("a class of the user's own declares its class the same way, and wins over its status", () => {
    class BillingDown extends Schema.TaggedError<BillingDown>()("BillingDown", { message: Schema.String, status: Schema.Number }) {
      static readonly errorClass = "billing"
    }
    assert.strictEqual(classify(new BillingDown({ message: "ledger offline", status: 400 })), "billing")
  })

  it("a Redrive tag on a plain object names the class; an unknown tag names none", () => {
    assert.deepStrictEqual(facts(ClassifyRules.typed, { _tag: "Redrive/RateLimitError", retryAfterMillis: 9 }), {
      errorClass: "rate_limit",
      retryAfterMillis: 9
    })
    assert.isUndefined(facts(ClassifyRules.typed, { _tag: "Other" }))
    assert.isUndefined(facts(ClassifyRules.typed, "Redrive/TimeoutError"))
    // A class field, not the type's: instances do not choose their class.
    assert.isUndefined(facts(ClassifyRules.typed, { errorClass: "validation" }))
  })
})

describe("effect", () => {
  const request = HttpClientRequest.get("http://127.0.0.1/x")

  it("a request that never reached the server is external_api; an invalid URL or body is not", () => {
    const transport = new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("refused") })
    assert.deepStrictEqual(facts(ClassifyRules.effect, transport), { errorClass: "external_api" })
    assert.isUndefined(facts(ClassifyRules.effect, new HttpClientError.RequestError({ request, reason: "InvalidUrl" })))
    assert.isUndefined(facts(ClassifyRules.effect, new HttpClientError.RequestError({ request, reason: "Encode" })))
    // Not @effect/platform's: a look-alike is not trusted.
    assert.isUndefined(facts(ClassifyRules.effect, { _tag: "RequestError", reason: "Transport" }))
  })

  it("TimeoutException and ParseError by tag, also as plain objects", () => {
    assert.deepStrictEqual(facts(ClassifyRules.effect, { _tag: "TimeoutException" }), { errorClass: "timeout" })
    assert.deepStrictEqual(facts(ClassifyRules.effect, { _tag: "ParseError" }), { errorClass: "validation" })
    assert.isUndefined(facts(ClassifyRules.effect, { _tag: "Other" }))
  })
})

describe("HTTP status", () => {
  it("is read from each field SDKs put it in", () => {
    const cases: ReadonlyArray<readonly [object, string]> = [
      [{ status: 503 }, "external_api"],
      [{ statusCode: 400 }, "validation"],
      [{ response: { status: 404 } }, "validation"],
      [{ response: { statusCode: 502 } }, "external_api"],
      [{ $metadata: { httpStatusCode: 500 } }, "external_api"],
      [{ code: 400, response: { body: {} } }, "validation"],
      [{ status: "503" }, "external_api"]
    ]
    for (const [error, errorClass] of cases) assert.strictEqual(classify(error), errorClass, JSON.stringify(error))
  })

  it("ignores what is not an error status: out of range, not an integer, a numeric code without a response", () => {
    const notStatuses = [
      { status: 0 },
      { status: 600 },
      { status: 399 },
      { status: 302 },
      { status: 503.5 },
      { status: "5030" },
      { status: "abc" },
      { status: [503] },
      { status: true },
      { code: 503 },
      { code: 503, response: null },
      { code: "400", response: {} }
    ]
    for (const error of notStatuses) assert.isUndefined(facts(ClassifyRules.httpStatus, error), JSON.stringify(error))
    // A field without an error status does not hide the next one.
    assert.deepStrictEqual(facts(ClassifyRules.httpStatus, { status: 200, statusCode: 500 }), { errorClass: "external_api" })
    assert.deepStrictEqual(facts(ClassifyRules.httpStatus, { status: 599 }), { errorClass: "external_api" })
    assert.deepStrictEqual(facts(ClassifyRules.httpStatus, { status: 400 }), { errorClass: "validation" })
    assert.deepStrictEqual(facts(ClassifyRules.httpStatus, { status: 499 }), { errorClass: "validation" })
  })

  it("the first field that holds a status wins", () => {
    assert.strictEqual(classify({ status: 429, statusCode: 500 }), "rate_limit")
    assert.strictEqual(classify({ statusCode: 404, response: { status: 503 } }), "validation")
    assert.strictEqual(classify({ response: { status: 404, statusCode: 503 } }), "validation")
    assert.strictEqual(classify({ response: { statusCode: 503 }, $metadata: { httpStatusCode: 400 } }), "external_api")
    assert.strictEqual(classify({ $metadata: { httpStatusCode: 503 }, code: 400, response: {} }), "external_api")
  })

  it("408 is a timeout; 403 is validation unless it is a rate limit", () => {
    assert.strictEqual(classify({ status: 408 }), "timeout")
    assert.strictEqual(classify({ status: 403 }), "validation")
    assert.strictEqual(classify({ status: 403, headers: { "retry-after": "5" } }), "rate_limit")
    assert.strictEqual(classify({ status: 403, response: { headers: { "x-ratelimit-remaining": "0" } } }), "rate_limit")
    assert.strictEqual(classify({ status: 403, response: { headers: { "x-ratelimit-remaining": "10" } } }), "validation")
    assert.strictEqual(classify({ status: 401, headers: { "retry-after": "5" } }), "validation")
  })

  it("a 5xx carries the Retry-After it sends; a 4xx does not", () => {
    assert.strictEqual(wait({ status: 503, headers: { "retry-after": "30" } }), 30_000)
    assert.strictEqual(wait({ status: 503 }), undefined)
    assert.strictEqual(wait({ status: 400, headers: { "retry-after": "30" } }), undefined)
  })
})

describe("Retry-After", () => {
  it("is read from response.headers, headers and AWS's $response.headers, in that order", () => {
    assert.strictEqual(wait({ status: 429, response: { headers: { "retry-after": "1" } }, headers: { "retry-after": "2" } }), 1000)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after": "2" }, $response: { headers: { "retry-after": "3" } } }), 2000)
    assert.strictEqual(wait({ status: 429, $response: { headers: { "retry-after": "3" } } }), 3000)
    assert.strictEqual(wait({ status: 429, response: { headers: {} }, headers: { "retry-after": "2" } }), 2000)
  })

  it("reads a fetch Headers, a get() of any case, a plain object of any case, arrays and numbers", () => {
    assert.strictEqual(wait({ status: 429, headers: new Headers({ "Retry-After": "4" }) }), 4000)
    assert.strictEqual(wait({ status: 429, headers: { get: (name: string) => (name === "retry-after" ? "5" : null) } }), 5000)
    assert.strictEqual(wait({ status: 429, headers: { "Retry-After": "6" } }), 6000)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after": ["7", "8"] } }), 7000)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after": 9 } }), 9000)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after": true } }), undefined)
    assert.strictEqual(wait({ status: 429, headers: "retry-after: 5" }), undefined)
  })

  it("looks through at most 100 differently cased header names; the lowercase name is found wherever it is", () => {
    const headers = (padding: number, name = "Retry-After") =>
      Object.fromEntries([...Array.from({ length: padding }, (_, i) => [`x-${i}`, "1"]), [name, "3"]])
    assert.strictEqual(wait({ status: 429, headers: headers(99) }), 3000)
    assert.strictEqual(wait({ status: 429, headers: headers(100) }), undefined)
    assert.strictEqual(wait({ status: 429, headers: headers(150, "retry-after") }), 3000)
  })

  it("headers that are not an object are no headers", () => {
    for (const headers of [null, "retry-after: 5", 5]) {
      assert.deepStrictEqual(facts(ClassifyRules.httpStatus, { status: 429, headers }), { errorClass: "rate_limit" })
    }
  })

  it("retry-after-ms comes first; an unreadable one is passed over", () => {
    assert.strictEqual(wait({ status: 429, headers: { "retry-after-ms": "1500.4", "retry-after": "9" } }), 1500)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after-ms": "soon", "retry-after": "9" } }), 9000)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after-ms": "-5", "retry-after": "9" } }), 9000)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after-ms": "Infinity", "retry-after": "9" } }), 9000)
    assert.strictEqual(wait({ status: 429, headers: { "retry-after-ms": "0" } }), 0)
  })

  it("a reset time counts only when no requests are left: a Unix time, or seconds when small", () => {
    const reset = (remaining: string, value: string) =>
      wait({ status: 429, headers: { "x-ratelimit-remaining": remaining, "x-ratelimit-reset": value } })
    assert.strictEqual(reset("0", String(now / 1000 + 30)), 30_000)
    assert.strictEqual(reset("0", String(now / 1000 - 30)), 0)
    assert.strictEqual(reset("0", "12"), 12_000)
    assert.strictEqual(reset("0", "1000000000"), 1_000_000_000_000)
    assert.strictEqual(reset("0", "1000000001"), 0)
    assert.strictEqual(reset("3", String(now / 1000 + 30)), undefined)
    assert.strictEqual(reset("0", "0"), undefined)
    assert.strictEqual(reset("0", "later"), undefined)
  })

  it("a retryAfter (Slack) or retryAfterSeconds (AWS) field is seconds, or a Retry-After text", () => {
    assert.strictEqual(wait({ status: 429, retryAfter: 2.5 }), 2500)
    assert.strictEqual(wait({ status: 429, retryAfter: -1 }), 0)
    assert.strictEqual(wait({ status: 429, retryAfterSeconds: 4 }), 4000)
    assert.strictEqual(wait({ status: 429, retryAfter: "3" }), 3000)
    assert.strictEqual(wait({ status: 429, retryAfter: "Mon, 23 Nov 2026 10:00:10 GMT" }), 10_000)
    assert.strictEqual(wait({ status: 429, retryAfter: Number.NaN, headers: { "retry-after": "1" } }), 1000)
    assert.strictEqual(wait({ status: 429, retryAfter: "soon", headers: { "retry-after": "1" } }), 1000)
  })
})

describe("provider codes and throttling", () => {
  it("an exhausted quota is quota_exceeded even with a 429", () => {
    assert.strictEqual(classify({ status: 429, code: "insufficient_quota" }), "quota_exceeded")
    assert.strictEqual(classify({ status: 429, type: "insufficient_quota" }), "quota_exceeded")
    assert.strictEqual(classify({ name: "ServiceQuotaExceededException", $metadata: { httpStatusCode: 402 } }), "quota_exceeded")
    assert.strictEqual(classify({ status: 429, code: "rate_limit_exceeded" }), "rate_limit")
  })

  it("Google's reasons: on the error, or in the response body", () => {
    const reasons: ReadonlyArray<readonly [string, string]> = [
      ["dailyLimitExceeded", "quota_exceeded"],
      ["quotaExceeded", "quota_exceeded"],
      ["rateLimitExceeded", "rate_limit"],
      ["userRateLimitExceeded", "rate_limit"],
      ["forbidden", "validation"]
    ]
    // Only the first eight reasons are read.
    const ninth = [...Array.from({ length: 8 }, () => ({ reason: "forbidden" })), { reason: "rateLimitExceeded" }]
    assert.strictEqual(classify({ status: 403, errors: ninth }), "validation")
    assert.strictEqual(classify({ status: 403, errors: ninth.slice(1) }), "rate_limit")
    for (const [reason, errorClass] of reasons) {
      assert.strictEqual(classify({ status: 403, errors: [{ reason }] }), errorClass, reason)
      assert.strictEqual(classify({ response: { status: 403, data: { error: { errors: [{ message: "m" }, { reason }] } } } }), errorClass, reason)
    }
  })

  it("Stripe's types", () => {
    const types: ReadonlyArray<readonly [string, string]> = [
      ["StripeCardError", "validation"],
      ["StripeRateLimitError", "rate_limit"],
      ["StripeConnectionError", "external_api"],
      ["StripeAPIError", "external_api"]
    ]
    for (const [type, errorClass] of types) assert.deepStrictEqual(facts(ClassifyRules.stripe, { type }), { errorClass }, type)
    assert.isUndefined(facts(ClassifyRules.stripe, { type: "StripeInvalidRequestError" }))
    assert.deepStrictEqual(facts(ClassifyRules.stripe, { type: "StripeRateLimitError", headers: { "retry-after": "2" } }), {
      errorClass: "rate_limit",
      retryAfterMillis: 2000
    })
  })

  it("Slack's codes and platform errors", () => {
    const platform = (error?: string) => ({ code: "slack_webapi_platform_error", data: { ok: false, ...(error ? { error } : {}) } })
    const cases: ReadonlyArray<readonly [object, string]> = [
      [platform("ratelimited"), "rate_limit"],
      [platform("rate_limited"), "rate_limit"],
      [platform("internal_error"), "external_api"],
      [platform("fatal_error"), "external_api"],
      [platform("service_unavailable"), "external_api"],
      [platform("not_in_channel"), "validation"],
      [platform(), "validation"],
      [{ code: "slack_webapi_request_error" }, "external_api"],
      [{ code: "slack_webapi_rate_limited_error", retryAfter: 3 }, "rate_limit"]
    ]
    for (const [error, errorClass] of cases) assert.deepStrictEqual(facts(ClassifyRules.slack, error)?.errorClass, errorClass, JSON.stringify(error))
    assert.strictEqual(facts(ClassifyRules.slack, { code: "slack_webapi_rate_limited_error", retryAfter: 3 })?.retryAfterMillis, 3000)
    assert.isUndefined(facts(ClassifyRules.slack, { code: "slack_webapi_http_error", statusCode: 500 }))
  })

  it("AWS throttling by $retryable, by name or by code, before its 400", () => {
    const names = [
      "ThrottlingException",
      "Throttling",
      "ThrottledException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "RequestLimitExceeded",
      "RequestThrottled",
      "RequestThrottledException",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "EC2ThrottledException",
      "SlowDown"
    ]
    for (const name of names) {
      assert.strictEqual(classify({ name, $metadata: { httpStatusCode: 400 } }), "rate_limit", name)
      assert.strictEqual(classify({ code: name, statusCode: 400 }), "rate_limit", name)
    }
    assert.strictEqual(classify({ name: "CodedThrottlingError", $retryable: { throttling: true }, $metadata: { httpStatusCode: 400 } }), "rate_limit")
    assert.strictEqual(classify({ name: "Busy", $retryable: {}, $metadata: { httpStatusCode: 400 } }), "validation")
    assert.strictEqual(classify({ name: "Busy", $retryable: { throttling: "yes" }, $metadata: { httpStatusCode: 400 } }), "validation")
  })
})

describe("network codes", () => {
  it("a host not reached is external_api", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "EHOSTDOWN", "ERR_NETWORK", "ERR_STREAM_PREMATURE_CLOSE", "UND_ERR_SOCKET", "UND_ERR_RESPONSE"]) {
      assert.deepStrictEqual(facts(ClassifyRules.networkCode, withCode(code)), { errorClass: "external_api" }, code)
    }
  })

  it("timeouts, including any *_TIMEOUT code", () => {
    for (const code of ["ETIMEDOUT", "ECONNABORTED", "ESOCKETTIMEDOUT", "ETIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ERR_SOCKET_CONNECTION_TIMEOUT"]) {
      assert.deepStrictEqual(facts(ClassifyRules.networkCode, withCode(code)), { errorClass: "timeout" }, code)
    }
  })

  it("undici's usage errors and other codes are not network failures", () => {
    for (const code of ["UND_ERR_INVALID_ARG", "UND_ERR_INVALID_RETURN_VALUE", "UND_ERR_NOT_SUPPORTED", "UND_ERR_ABORT", "UND_ERR_ABORTED", "UND_ERR_DESTROYED", "UND_ERR_CLOSED", "UND_ERR", "ERR_INVALID_ARG_TYPE", "TIMEOUT", "xUND_ERR_SOCKET"]) {
      assert.isUndefined(facts(ClassifyRules.networkCode, withCode(code)), code)
    }
    assert.isUndefined(facts(ClassifyRules.networkCode, { code: 110 }))
  })
})

describe("SMTP (nodemailer)", () => {
  const reply = (responseCode: number, code = "EENVELOPE") => ({ code, responseCode, response: `${responseCode} reply`, command: "RCPT TO" })

  it("4xx replies are temporary, 5xx final", () => {
    assert.deepStrictEqual(facts(ClassifyRules.smtp, reply(400)), { errorClass: "external_api" })
    assert.deepStrictEqual(facts(ClassifyRules.smtp, reply(499, "EAUTH")), { errorClass: "external_api" })
    assert.deepStrictEqual(facts(ClassifyRules.smtp, reply(500, "ECONNECTION")), { errorClass: "validation" })
    assert.deepStrictEqual(facts(ClassifyRules.smtp, reply(599)), { errorClass: "validation" })
    // No reply text: not SMTP's number, the code decides.
    assert.deepStrictEqual(facts(ClassifyRules.smtp, { code: "ESOCKET", responseCode: 550 }), { errorClass: "external_api" })
    assert.isUndefined(facts(ClassifyRules.smtp, { code: "EOTHER", responseCode: 600, response: "600 what" }))
    assert.isUndefined(facts(ClassifyRules.smtp, { code: "EOTHER", responseCode: 399, response: "399 what" }))
  })

  it("without a reply, nodemailer's codes", () => {
    for (const code of ["ECONNECTION", "ESOCKET", "EDNS", "ETLS", "EPROTOCOL"]) {
      assert.deepStrictEqual(facts(ClassifyRules.smtp, { code }), { errorClass: "external_api" }, code)
    }
    for (const code of ["EAUTH", "EENVELOPE", "EMESSAGE"]) {
      assert.deepStrictEqual(facts(ClassifyRules.smtp, { code }), { errorClass: "validation" }, code)
    }
    assert.isUndefined(facts(ClassifyRules.smtp, { code: "ETIMEDOUT" }))
    assert.isUndefined(facts(ClassifyRules.smtp, {}))
  })
})

describe("Postgres SQLSTATE", () => {
  const pg = (code: string, extra: object = { severity: "ERROR" }) => ({ code, ...extra })

  it("by class and state", () => {
    const cases: ReadonlyArray<readonly [string, string | undefined]> = [
      ["22012", "validation"],
      ["22P02", "validation"],
      ["23505", "validation"],
      ["23503", "validation"],
      ["57014", "timeout"],
      ["08006", "external_api"],
      ["08001", "external_api"],
      ["53300", "external_api"],
      ["53100", "external_api"],
      ["40001", "external_api"],
      ["40P01", "external_api"],
      ["55P03", "external_api"],
      ["57P01", "external_api"],
      ["57P02", "external_api"],
      ["57P03", "external_api"],
      ["40002", undefined],
      ["42P01", undefined],
      ["42601", undefined],
      ["28P01", undefined]
    ]
    for (const [code, errorClass] of cases) assert.strictEqual(facts(ClassifyRules.postgres, pg(code))?.errorClass, errorClass, code)
  })

  it("only a code beside severity or routine is a SQLSTATE", () => {
    assert.strictEqual(facts(ClassifyRules.postgres, pg("23505", { routine: "_bt_check_unique" }))?.errorClass, "validation")
    assert.isUndefined(facts(ClassifyRules.postgres, pg("23505", {})))
    assert.isUndefined(facts(ClassifyRules.postgres, pg("23505", { severity: 3 })))
    assert.isUndefined(facts(ClassifyRules.postgres, pg("2350", { severity: "ERROR" })))
    assert.isUndefined(facts(ClassifyRules.postgres, pg("235050", { severity: "ERROR" })))
    assert.isUndefined(facts(ClassifyRules.postgres, pg("22p02", { severity: "ERROR" })))
  })
})

describe("error names", () => {
  it("*TimeoutError and AWS's request timeouts are timeouts; a plain AbortError is not", () => {
    for (const name of ["TimeoutError", "ConnectTimeoutError", "KnexTimeoutError", "RequestTimeout", "RequestTimeoutException"]) {
      assert.deepStrictEqual(facts(ClassifyRules.errorName, { name }), { errorClass: "timeout" }, name)
    }
    for (const name of ["AbortError", "TimeoutErrorX", "Timeout", "RequestTimeoutError2"]) {
      assert.isUndefined(facts(ClassifyRules.errorName, { name }), name)
    }
  })

  it("validation names", () => {
    for (const name of ["ZodError", "ValiError", "ValidationError", "ValidationException", "SequelizeValidationError"]) {
      assert.deepStrictEqual(facts(ClassifyRules.errorName, { name }), { errorClass: "validation" }, name)
    }
    for (const name of ["ValidationErrors", "Validation", "ZodErrorX"]) assert.isUndefined(facts(ClassifyRules.errorName, { name }), name)
    assert.isUndefined(facts(ClassifyRules.errorName, {}))
  })
})

describe("message heuristics", () => {
  it("read the message, or a string thrown as the error; nothing else", () => {
    assert.deepStrictEqual(facts(ClassifyRules.messageHeuristics, "upstream timed out"), { errorClass: "timeout" })
    assert.deepStrictEqual(facts(ClassifyRules.messageHeuristics, { message: "Connection terminated unexpectedly" }), {
      errorClass: "external_api"
    })
    assert.isUndefined(facts(ClassifyRules.messageHeuristics, { reason: "timeout" }))
    assert.isUndefined(facts(ClassifyRules.messageHeuristics, { message: "" }))
  })
})

describe("the built-in list", () => {
  it("runs provider codes and throttling before the status, facts before names, heuristics last", () => {
    assert.deepStrictEqual(Classify.rules.map((r) => r.name), [
      "typed",
      "effect",
      "quota",
      "stripe",
      "slack",
      "throttling",
      "httpStatus",
      "smtp",
      "networkCode",
      "postgres",
      "errorName",
      "messageHeuristics"
    ])
    assert.strictEqual(Classify.rules, ClassifyRules.builtIn)
  })
})
