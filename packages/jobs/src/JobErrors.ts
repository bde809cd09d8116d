/**
 * Tagged errors for each built-in error class. Each carries its class on its type (the static
 * `errorClass`), so a handler that fails with one is classified before any other rule, and a
 * class of your own can do the same:
 *
 *   class BillingDown extends Schema.TaggedError<BillingDown>()("BillingDown", { message: Schema.String }) {
 *     static readonly errorClass = "external_api"
 *   }
 */
import { Schema } from "effect"
import * as ErrorClass from "./ErrorClass.js"

export class TimeoutError extends Schema.TaggedError<TimeoutError>()("Redrive/TimeoutError", {
  message: Schema.String
}) {
  static readonly errorClass: ErrorClass.ErrorClass = ErrorClass.timeout
}

/** Bad input: retrying will not help, so the default policy dead-letters at once. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("Redrive/ValidationError", {
  message: Schema.String,
  field: Schema.optional(Schema.String)
}) {
  static readonly errorClass: ErrorClass.ErrorClass = ErrorClass.validation
}

export class ExternalApiError extends Schema.TaggedError<ExternalApiError>()("Redrive/ExternalApiError", {
  message: Schema.String,
  status: Schema.optional(Schema.Int)
}) {
  static readonly errorClass: ErrorClass.ErrorClass = ErrorClass.externalApi
}

export class QuotaExceededError extends Schema.TaggedError<QuotaExceededError>()("Redrive/QuotaExceededError", {
  message: Schema.String
}) {
  static readonly errorClass: ErrorClass.ErrorClass = ErrorClass.quotaExceeded
}

/** `retryAfterMillis`, when known, overrides the backoff (like an HTTP Retry-After). */
export class RateLimitError extends Schema.TaggedError<RateLimitError>()("Redrive/RateLimitError", {
  message: Schema.String,
  retryAfterMillis: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
}) {
  static readonly errorClass: ErrorClass.ErrorClass = ErrorClass.rateLimit
}

/** A stored payload no longer decodes with the job's Schema (the Schema changed): never retried. */
export class PayloadDecodeError extends Schema.TaggedError<PayloadDecodeError>()("Redrive/PayloadDecodeError", {
  message: Schema.String
}) {
  static readonly errorClass: ErrorClass.ErrorClass = ErrorClass.validation
}

export type ClassifiedError = TimeoutError | ValidationError | ExternalApiError | QuotaExceededError | RateLimitError

/**
 * Redrive's error types, for recognising one that crossed a process boundary as a plain
 * object: its `_tag` names the type, and so the class.
 */
export const classified = [
  TimeoutError,
  ValidationError,
  ExternalApiError,
  QuotaExceededError,
  RateLimitError,
  PayloadDecodeError
] as const
