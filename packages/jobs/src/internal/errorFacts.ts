/**
 * Readers of the facts errors carry, wherever the library that built them put them: an HTTP
 * status, response headers, a code, the causes. Each takes `unknown`, reads a handful of fields
 * and never walks an object's contents, so an error holding a socket or a whole response costs
 * no more than a small one.
 */
import { Predicate } from "effect"

// Not Predicate.hasProperty: its data-first or data-last dispatch reads `arguments` on every
// call, and classifying a failure reads dozens of fields.
export const field = (u: unknown, key: string): unknown =>
  ((typeof u === "object" && u !== null) || typeof u === "function") && key in u ? Reflect.get(u, key) : undefined

export const stringField = (u: unknown, key: string): string | undefined => {
  const value = field(u, key)
  return typeof value === "string" ? value : undefined
}

/** A non-empty `message`. */
export const text = (u: unknown): string | undefined => {
  const message = stringField(u, "message")
  return message !== undefined && message.length > 0 ? message : undefined
}

const isInteger = (u: unknown): u is number => Number.isInteger(u)
const isFiniteNumber = (u: unknown): u is number => Number.isFinite(u)

/** An HTTP error status (4xx, 5xx), given as a number or as its digits. */
const asErrorStatus = (u: unknown): number | undefined => {
  const n = typeof u === "string" ? Number(u) : u
  return isInteger(n) && n >= 400 && n <= 599 ? n : undefined
}

/**
 * The HTTP error status of the response an error reports: `status` (fetch-style SDKs, Octokit,
 * Twilio), `statusCode` (Stripe, got's response), `response.status(Code)` (axios, gaxios,
 * @effect/platform), `$metadata.httpStatusCode` (AWS SDK v3), or a numeric `code` beside a
 * `response` (SendGrid). The first field holding a 4xx or 5xx wins.
 */
export const statusOf = (u: unknown): number | undefined => {
  const response = field(u, "response")
  const code = field(u, "code")
  return asErrorStatus(field(u, "status")) ?? asErrorStatus(field(u, "statusCode")) ??
    asErrorStatus(field(response, "status")) ?? asErrorStatus(field(response, "statusCode")) ??
    asErrorStatus(field(field(u, "$metadata"), "httpStatusCode")) ??
    (Predicate.isObject(response) && isInteger(code) ? asErrorStatus(code) : undefined)
}

const isCallable = (u: unknown): u is (name: string) => unknown => typeof u === "function"

const headerValue = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" ? String(v) : Array.isArray(v) ? headerValue(v[0]) : undefined

/** Header names a plain object is searched through for a differently cased name; headers are short. */
const maxHeaderKeys = 100

/**
 * A header by its lowercase name, from a fetch `Headers`, an axios `AxiosHeaders` (both look up
 * any case with `get`) or a plain object (node's lowercase `IncomingHttpHeaders`, or any case).
 */
export const header = (headers: object, name: string): string | undefined => {
  const get = field(headers, "get")
  if (isCallable(get)) return headerValue(get.call(headers, name))
  const exact = field(headers, name)
  if (exact !== undefined) return headerValue(exact)
  const entry = Object.entries(headers).slice(0, maxHeaderKeys).find(([key]) => key.toLowerCase() === name)
  return headerValue(entry?.[1])
}

/** Where SDKs keep the response headers: `response.headers`, `headers`, AWS's `$response.headers`. */
export const headersOf = (u: unknown): ReadonlyArray<object> =>
  [field(field(u, "response"), "headers"), field(u, "headers"), field(field(u, "$response"), "headers")]
    .filter(Predicate.isObject)

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000))
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Above this, an `x-ratelimit-reset` is a Unix time in seconds (GitHub, SendGrid), below it seconds to wait. */
const unixSecondsFrom = 1e9

const fromHeaders = (headers: object, now: number): number | undefined => {
  // OpenAI's SDK sends (and honours) retry-after-ms beside retry-after.
  const millis = Number(header(headers, "retry-after-ms"))
  if (Number.isFinite(millis) && millis >= 0) return Math.round(millis)
  const after = parseRetryAfter(header(headers, "retry-after"), now)
  if (after !== undefined) return after
  // A reset time counts only when the window is spent: with requests left it says nothing about this failure.
  if (header(headers, "x-ratelimit-remaining") !== "0") return undefined
  const reset = Number(header(headers, "x-ratelimit-reset"))
  if (!(reset > 0)) return undefined
  return reset > unixSecondsFrom ? Math.max(0, Math.round(reset * 1000 - now)) : Math.round(reset * 1000)
}

/**
 * How long an error asks its caller to wait, in milliseconds: a `retryAfter` (Slack) or
 * `retryAfterSeconds` (AWS ThrottlingException) field in seconds, else the response headers'
 * retry-after-ms, Retry-After, or an exhausted window's reset.
 */
export const retryAfterOf = (u: unknown, now: number): number | undefined => {
  const own = field(u, "retryAfter") ?? field(u, "retryAfterSeconds")
  if (isFiniteNumber(own)) return Math.max(0, Math.round(own * 1000))
  const parsed = parseRetryAfter(typeof own === "string" ? own : undefined, now)
  if (parsed !== undefined) return parsed
  for (const headers of headersOf(u)) {
    const millis = fromHeaders(headers, now)
    if (millis !== undefined) return millis
  }
  return undefined
}

/** A 403 that is a rate limit (GitHub answers its limits with 403): a Retry-After, or no requests left. */
export const isRateLimitedForbidden = (u: unknown): boolean =>
  headersOf(u).some((h) => header(h, "retry-after") !== undefined || header(h, "x-ratelimit-remaining") === "0")

const isAggregate = (u: unknown): boolean => u instanceof AggregateError || stringField(u, "name") === "AggregateError"

/** At most this many values are looked at per failure: the error and its causes. */
const maxLinks = 16
const maxDepth = 5
const maxAggregated = 8

const causesOf = (u: unknown): ReadonlyArray<unknown> => {
  const errors = isAggregate(u) ? field(u, "errors") : undefined
  return [field(u, "cause"), ...(Array.isArray(errors) ? errors.slice(0, maxAggregated) : [])]
}

/**
 * The error, then what caused it — `cause` (undici's `fetch failed`, `Effect.tryPromise`'s
 * UnknownException, SqlError) and an AggregateError's `errors` — breadth first, each object once:
 * at most 16 values, 5 levels deep, so a cycle or a long chain costs nothing.
 */
export const chain = (error: unknown): ReadonlyArray<unknown> => {
  const found: Array<readonly [unknown, number]> = [[error, 0]]
  const seen = new Set<unknown>([error])
  // Iterating `found` while it grows walks it breadth first.
  for (const [link, depth] of found) {
    if (depth === maxDepth) continue
    for (const cause of causesOf(link)) {
      if (!Predicate.isObject(cause) || seen.has(cause)) continue
      if (found.length === maxLinks) return found.map(([value]) => value)
      seen.add(cause)
      found.push([cause, depth + 1])
    }
  }
  return found.map(([value]) => value)
}
