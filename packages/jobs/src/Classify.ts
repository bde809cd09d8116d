/**
 * Turns a failed attempt's Cause into an error class and the facts a history entry records.
 * Order: the job's own classifier (so a job can override any rule below), Redrive's tagged
 * errors, @effect/platform HTTP responses (429 → rate_limit honouring Retry-After, 5xx →
 * external_api, other 4xx → validation), TimeoutException → timeout, ParseError → validation,
 * then message heuristics. Anything else is `unknown`, which is retried: an unrecognised error
 * is never treated as a permanent one. Defects are classified the same way. The stack is read
 * only on demand (`stackOf`): formatting a stack costs more than the rest of a failed attempt.
 */
import { HttpClientError } from "@effect/platform"
import { Cause, Option } from "effect"
import type { AnyJobDefinition } from "./JobDefinition.js"
import * as Limits from "./Limits.js"

export interface Classification {
  readonly errorClass: string
  readonly kind: "failed" | "timeout"
  readonly tag: string
  readonly message: string
  /** The failure itself, for `stackOf`. */
  readonly error: unknown
  /** A retry time the error itself asks for (HTTP Retry-After, RateLimitError). */
  readonly retryAfterMillis?: number
  readonly defect: boolean
}

const byTag: Readonly<Record<string, string>> = {
  "Redrive/TimeoutError": "timeout",
  "Redrive/ValidationError": "validation",
  "Redrive/ExternalApiError": "external_api",
  "Redrive/QuotaExceededError": "quota_exceeded",
  "Redrive/RateLimitError": "rate_limit",
  "Redrive/PayloadDecodeError": "validation",
  TimeoutException: "timeout",
  ParseError: "validation"
}

const heuristics: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(timed? ?out|timeout|ETIMEDOUT|deadline exceeded)\b/i, "timeout"],
  [/\b(rate.?limit(ed)?|too many requests|429)\b/i, "rate_limit"],
  [/\b(quota|insufficient_quota|usage limit)\b/i, "quota_exceeded"],
  [/\b(ECONNREFUSED|ECONNRESET|EAI_AGAIN|ENOTFOUND|socket hang up|bad gateway|service unavailable|50[0234])\b/i, "external_api"]
]

const field = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null && key in u ? (u as Record<string, unknown>)[key] : undefined

const text = (u: unknown): string | undefined => {
  const v = field(u, "message")
  return typeof v === "string" && v.length > 0 ? v : undefined
}

const tagOf = (error: unknown): string => {
  const tag = field(error, "_tag")
  if (typeof tag === "string") return tag
  if (error instanceof Error) return error.name
  return typeof error
}

const messageOf = (error: unknown): string => {
  const message = text(error)
  if (message !== undefined) return message
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/** The top of a stack is what identifies a failure: keep 12 lines, at most `maxBytes` UTF-8 bytes. */
const truncateStack = (stack: string, maxBytes: number) => {
  const lines = stack.split("\n", 13)
  const top = lines.length > 12 ? `${lines.slice(0, 12).join("\n")}\n    …` : stack
  return Limits.truncate(top, maxBytes)
}

/** The failure's stack, truncated for storage (undefined when it has none). */
export const stackOf = (classification: Classification, maxBytes: number): string | undefined => {
  const { error } = classification
  const stack = error instanceof Error ? error.stack : field(error, "stack")
  return typeof stack === "string" ? truncateStack(stack, maxBytes) : undefined
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000))
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

const fromHttp = (error: unknown, now: number): Partial<Classification> | undefined => {
  if (!HttpClientError.isHttpClientError(error)) return undefined
  if (error._tag === "RequestError") return { errorClass: "external_api" }
  const status = error.response.status
  if (status === 429) {
    const retryAfterMillis = parseRetryAfter(error.response.headers["retry-after"], now)
    return { errorClass: "rate_limit", ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {}) }
  }
  if (status >= 500) return { errorClass: "external_api" }
  if (status >= 400) return { errorClass: "validation" }
  return undefined
}

export const classifyError = (
  error: unknown,
  definition: Pick<AnyJobDefinition, "classify">,
  defect: boolean,
  now: number
): Classification => {
  const tag = tagOf(error)
  const message = messageOf(error)
  const base = { tag, message, defect, error }
  const withClass = (errorClass: string, extra: Partial<Classification> = {}): Classification => ({
    ...base,
    kind: errorClass === "timeout" ? "timeout" : "failed",
    errorClass,
    ...extra
  })
  const own = definition.classify(error)
  if (Option.isSome(own)) return withClass(own.value)
  const tagged = byTag[tag]
  if (tagged !== undefined) {
    const retryAfter = field(error, "retryAfterMillis")
    return withClass(tagged, typeof retryAfter === "number" ? { retryAfterMillis: retryAfter } : {})
  }
  const http = fromHttp(error, now)
  if (http?.errorClass !== undefined) return withClass(http.errorClass, http)
  for (const [pattern, errorClass] of heuristics) {
    if (pattern.test(message)) return withClass(errorClass)
  }
  return withClass("unknown")
}

/** Classifies a failed attempt's Cause: its first failure, else its first defect. */
export const classifyCause = (
  cause: Cause.Cause<unknown>,
  definition: Pick<AnyJobDefinition, "classify">,
  now: number
): Classification => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return classifyError(failure.value, definition, false, now)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return classifyError(defect.value, definition, true, now)
  return classifyError(new Error(Cause.pretty(cause)), definition, true, now)
}
