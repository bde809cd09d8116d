/**
 * The built-in classification rules, in the order `Classify.rules` tries them. Each is a named
 * function from an error to the class it belongs in (and the wait it asks for), or none; the
 * classifier tries each rule on the error and then on its causes before the next rule, so a
 * fact anywhere in the chain beats a guess from a message. The facts are read as the libraries
 * build their errors (undici, node:http, axios, got, AWS SDK v3, Stripe, OpenAI, Anthropic,
 * Twilio, SendGrid, Octokit, Slack, Google APIs, Zod, pg, nodemailer); see the test corpus.
 */
import * as HttpClientError from "@effect/platform/HttpClientError"
import { Option } from "effect"
import type { Facts, Rule } from "./Classify.js"
import * as ErrorClass from "./ErrorClass.js"
import {
  field,
  isRateLimitedForbidden,
  retryAfterOf,
  statusOf,
  stringField,
  text
} from "./internal/errorFacts.js"
import * as JobErrors from "./JobErrors.js"

const is = (errorClass: string): Option.Option<Facts> => Option.some({ errorClass })

/** A class, with the wait the error asks for when it names one (Retry-After). */
const waiting = (errorClass: string, error: unknown, now: number): Option.Option<Facts> => {
  const retryAfterMillis = retryAfterOf(error, now)
  return Option.some(retryAfterMillis === undefined ? { errorClass } : { errorClass, retryAfterMillis })
}

const byTag: ReadonlyMap<string | undefined, string> = new Map(JobErrors.classified.map((type) => [type._tag, type.errorClass]))

/**
 * The class an error's type carries (a static `errorClass`, as Redrive's tagged errors have),
 * or a Redrive error's `_tag` on a plain object (one that crossed a process boundary). A
 * `retryAfterMillis` number on the error is its wait.
 */
export const typed: Rule = {
  name: "typed",
  classify: (error) => {
    const declared = field(field(error, "constructor"), "errorClass")
    const errorClass = typeof declared === "string" ? declared : byTag.get(stringField(error, "_tag"))
    if (errorClass === undefined) return Option.none()
    const retryAfterMillis = field(error, "retryAfterMillis")
    return Option.some(typeof retryAfterMillis === "number" ? { errorClass, retryAfterMillis } : { errorClass })
  }
}

/**
 * Effect's own failures: `TimeoutException` (Effect.timeout), `ParseError` (Schema), and an
 * @effect/platform request that never reached the server. Its responses are read by `httpStatus`.
 */
export const effect: Rule = {
  name: "effect",
  classify: (error) => {
    const tag = stringField(error, "_tag")
    if (tag === "TimeoutException") return is(ErrorClass.timeout)
    if (tag === "ParseError") return is(ErrorClass.validation)
    // Only a RequestError has this reason: a ResponseError got an answer.
    return HttpClientError.isHttpClientError(error) && error.reason === "Transport" ? is(ErrorClass.externalApi) : Option.none()
  }
}

/** Whether one of the first 8 reasons Google listed for the error is in `reasons`. */
const hasGoogleReason = (error: unknown, reasons: ReadonlySet<string | undefined>): boolean => {
  // googleapis puts the API's error list on the error; gaxios leaves it in the response body.
  const listed = field(error, "errors") ?? field(field(field(field(error, "response"), "data"), "error"), "errors")
  return Array.isArray(listed) && listed.slice(0, 8).some((item) => reasons.has(stringField(item, "reason")))
}

const quotaCodes: ReadonlySet<string | undefined> = new Set(["insufficient_quota"])
const googleQuotaReasons: ReadonlySet<string | undefined> = new Set(["dailyLimitExceeded", "quotaExceeded"])

/**
 * An exhausted quota, before the 429 rule: OpenAI answers an account out of credit with a 429
 * and `code: "insufficient_quota"`, which waiting will not fix. Also AWS's
 * ServiceQuotaExceededException and Google's dailyLimitExceeded/quotaExceeded reasons.
 */
export const quota: Rule = {
  name: "quota",
  classify: (error) => {
    const exhausted = hasGoogleReason(error, googleQuotaReasons) || quotaCodes.has(stringField(error, "code")) ||
      quotaCodes.has(stringField(error, "type")) || stringField(error, "name") === "ServiceQuotaExceededException"
    return exhausted ? is(ErrorClass.quotaExceeded) : Option.none()
  }
}

const stripeTypes: ReadonlyMap<string | undefined, string> = new Map([
  // A decline is the card's answer, not a failure to get one: retrying charges nobody.
  ["StripeCardError", ErrorClass.validation],
  ["StripeRateLimitError", ErrorClass.rateLimit],
  ["StripeConnectionError", ErrorClass.externalApi],
  ["StripeAPIError", ErrorClass.externalApi]
])

/** Stripe's error types (`type` is the class name), some of which have no status (a connection error). */
export const stripe: Rule = {
  name: "stripe",
  classify: (error, now) => {
    const errorClass = stripeTypes.get(stringField(error, "type"))
    return errorClass === undefined ? Option.none() : waiting(errorClass, error, now)
  }
}

const slackRateLimited: ReadonlySet<string | undefined> = new Set(["ratelimited", "rate_limited"])
const slackServerErrors: ReadonlySet<string | undefined> = new Set(["internal_error", "fatal_error", "service_unavailable"])

/**
 * Slack's Web API answers most refusals with HTTP 200 and `ok: false`: a platform error is the
 * API refusing the call (bad channel, bad token) unless it says it is rate limited or broken.
 */
export const slack: Rule = {
  name: "slack",
  classify: (error, now) => {
    switch (stringField(error, "code")) {
      case "slack_webapi_rate_limited_error":
        return waiting(ErrorClass.rateLimit, error, now)
      case "slack_webapi_request_error":
        return is(ErrorClass.externalApi)
      case "slack_webapi_platform_error": {
        const reason = stringField(field(error, "data"), "error")
        if (slackRateLimited.has(reason)) return waiting(ErrorClass.rateLimit, error, now)
        return is(slackServerErrors.has(reason) ? ErrorClass.externalApi : ErrorClass.validation)
      }
      default:
        return Option.none()
    }
  }
}

const throttlingNames: ReadonlySet<string | undefined> = new Set([
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
])
const googleRateReasons: ReadonlySet<string | undefined> = new Set(["rateLimitExceeded", "userRateLimitExceeded"])

/**
 * Throttling that does not say 429, before the status rule: AWS marks it `$retryable.throttling`
 * or names it (DynamoDB throttles with a 400, S3 with a 503 SlowDown); Google answers some rate
 * limits with a 403 and a `rateLimitExceeded` reason.
 */
export const throttling: Rule = {
  name: "throttling",
  classify: (error, now) => {
    const throttled = hasGoogleReason(error, googleRateReasons) || field(field(error, "$retryable"), "throttling") === true ||
      throttlingNames.has(stringField(error, "name")) || throttlingNames.has(stringField(error, "code"))
    return throttled ? waiting(ErrorClass.rateLimit, error, now) : Option.none()
  }
}

/**
 * The HTTP status of the response: 429 (or a 403 with a Retry-After or no requests left, as
 * GitHub limits) → rate_limit honouring Retry-After; 408 → timeout; 5xx → external_api (with
 * the Retry-After a 503 may send); other 4xx → validation.
 */
export const httpStatus: Rule = {
  name: "httpStatus",
  classify: (error, now) => {
    const status = statusOf(error)
    if (status === undefined) return Option.none()
    if (status === 429 || (status === 403 && isRateLimitedForbidden(error))) {
      return waiting(ErrorClass.rateLimit, error, now)
    }
    if (status === 408) return is(ErrorClass.timeout)
    return status >= 500 ? waiting(ErrorClass.externalApi, error, now) : is(ErrorClass.validation)
  }
}

const unreachableCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  // axios in a browser-like adapter, and node streams cut off mid-response (got)
  "ERR_NETWORK",
  "ERR_STREAM_PREMATURE_CLOSE"
])
const timeoutCodes: ReadonlySet<string> = new Set(["ETIMEDOUT", "ECONNABORTED", "ESOCKETTIMEDOUT", "ETIMEOUT"])
/** undici codes for a wrong call or a client closed by its owner: bugs, not a network that failed. */
const undiciUsageCodes: ReadonlySet<string> = new Set([
  "UND_ERR_INVALID_ARG",
  "UND_ERR_INVALID_RETURN_VALUE",
  "UND_ERR_NOT_SUPPORTED",
  "UND_ERR_ABORT",
  "UND_ERR_ABORTED",
  "UND_ERR_DESTROYED",
  "UND_ERR_CLOSED"
])

/**
 * Network failures by their code, as node, undici (`UND_ERR_*`), axios and got set it: a host
 * not reached → external_api; ETIMEDOUT, ECONNABORTED (axios' timeout) and `*_TIMEOUT` → timeout.
 */
export const networkCode: Rule = {
  name: "networkCode",
  classify: (error) => {
    const code = stringField(error, "code")
    if (code === undefined) return Option.none()
    if (timeoutCodes.has(code) || code.endsWith("_TIMEOUT")) return is(ErrorClass.timeout)
    const unreachable = unreachableCodes.has(code) || (code.startsWith("UND_ERR_") && !undiciUsageCodes.has(code))
    return unreachable ? is(ErrorClass.externalApi) : Option.none()
  }
}

const smtpUnreachable: ReadonlySet<string | undefined> = new Set(["ECONNECTION", "ESOCKET", "EDNS", "ETLS", "EPROTOCOL"])
const smtpRefused: ReadonlySet<string | undefined> = new Set(["EAUTH", "EENVELOPE", "EMESSAGE"])

/**
 * SMTP, as nodemailer reports it: a reply code beside the reply text. SMTP's classes run the
 * other way from HTTP's: 4xx is "try again later" (greylisting, a full queue) → external_api,
 * 5xx is final (no such mailbox, bad credentials) → validation. Without a reply, its codes.
 */
export const smtp: Rule = {
  name: "smtp",
  classify: (error) => {
    if (typeof field(error, "response") === "string") {
      const reply = Number(field(error, "responseCode"))
      if (reply >= 400 && reply < 500) return is(ErrorClass.externalApi)
      if (reply >= 500 && reply < 600) return is(ErrorClass.validation)
    }
    const code = stringField(error, "code")
    if (smtpUnreachable.has(code)) return is(ErrorClass.externalApi)
    return smtpRefused.has(code) ? is(ErrorClass.validation) : Option.none()
  }
}

const sqlState = /^[0-9A-Z]{5}$/
/**
 * Serialization failures, deadlocks, lock timeouts (NOWAIT) and a server shutting down: the
 * statement was fine and will likely succeed when tried again, because of other sessions or the
 * server's state, not the job's input. They file as external_api, the retryable class of a
 * dependency's trouble, rather than `unknown`, which would hide that they are understood.
 */
const transientStates: ReadonlySet<string> = new Set(["40001", "40P01", "55P03", "57P01", "57P02", "57P03"])

/**
 * Postgres errors by SQLSTATE (a 5-character `code` beside the `severity` or `routine` that pg's
 * DatabaseError and postgres.js carry, so node's `EPIPE` is not one): data exceptions (22) and
 * constraint violations (23) → validation; a cancelled statement (57014, statement_timeout) →
 * timeout; connection (08) and resource (53) troubles, and the transient states → external_api.
 * Anything else (a syntax error, a missing table) is a bug and stays unknown.
 */
export const postgres: Rule = {
  name: "postgres",
  classify: (error) => {
    const code = String(field(error, "code"))
    if (!sqlState.test(code)) return Option.none()
    if (stringField(error, "severity") === undefined && stringField(error, "routine") === undefined) return Option.none()
    const sqlClass = code.slice(0, 2)
    if (sqlClass === "22" || sqlClass === "23") return is(ErrorClass.validation)
    if (code === "57014") return is(ErrorClass.timeout)
    return sqlClass === "08" || sqlClass === "53" || transientStates.has(code) ? is(ErrorClass.externalApi) : Option.none()
  }
}

const validationNames: ReadonlySet<string> = new Set(["ZodError", "ValiError"])

/**
 * Error names: `*TimeoutError` (undici's ConnectTimeoutError, got's TimeoutError, the
 * DOMException an AbortSignal.timeout raises — also as an AbortError's cause) and AWS's
 * RequestTimeout(Exception) → timeout; ZodError, `*ValidationError`, `*ValidationException` →
 * validation. A plain AbortError is somebody's decision to stop, and stays unknown.
 */
export const errorName: Rule = {
  name: "errorName",
  classify: (error) => {
    const name = stringField(error, "name")
    if (name === undefined) return Option.none()
    if (name.endsWith("TimeoutError") || name === "RequestTimeout" || name === "RequestTimeoutException") {
      return is(ErrorClass.timeout)
    }
    return validationNames.has(name) || /Validation(Error|Exception)$/.test(name)
      ? is(ErrorClass.validation)
      : Option.none()
  }
}

const heuristics: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(timed? ?out|timeout|ETIMEDOUT|deadline exceeded)\b/i, ErrorClass.timeout],
  [/\b(rate.?limit(ed)?|too many requests|429)\b/i, ErrorClass.rateLimit],
  [/\b(quota|insufficient_quota|usage limit)\b/i, ErrorClass.quotaExceeded],
  [
    /\b(ECONNREFUSED|ECONNRESET|EAI_AGAIN|ENOTFOUND|socket hang up|connection terminated|bad gateway|service unavailable|50[0234])\b/i,
    ErrorClass.externalApi
  ]
]

/** Last: words in the message (or in a string thrown as the error). */
export const messageHeuristics: Rule = {
  name: "messageHeuristics",
  classify: (error) => {
    const message = typeof error === "string" ? error : text(error)
    if (message === undefined) return Option.none()
    for (const [pattern, errorClass] of heuristics) {
      if (pattern.test(message)) return is(errorClass)
    }
    return Option.none()
  }
}

/** The built-in rules, in order. */
export const builtIn: ReadonlyArray<Rule> = [
  typed,
  effect,
  quota,
  stripe,
  slack,
  throttling,
  httpStatus,
  smtp,
  networkCode,
  postgres,
  errorName,
  messageHeuristics
]
