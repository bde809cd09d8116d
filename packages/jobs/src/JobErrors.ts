/**
 * Tagged errors for each built-in error class. A handler that fails with one of these is
 * classified by its tag, before any other rule.
 */
import { Schema } from "effect"

export class TimeoutError extends Schema.TaggedError<TimeoutError>()("Redrive/TimeoutError", {
  message: Schema.String
}) {}

/** Bad input: retrying will not help, so the default policy dead-letters at once. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("Redrive/ValidationError", {
  message: Schema.String,
  field: Schema.optional(Schema.String)
}) {}

export class ExternalApiError extends Schema.TaggedError<ExternalApiError>()("Redrive/ExternalApiError", {
  message: Schema.String,
  status: Schema.optional(Schema.Int)
}) {}

export class QuotaExceededError extends Schema.TaggedError<QuotaExceededError>()("Redrive/QuotaExceededError", {
  message: Schema.String
}) {}

/** `retryAfterMillis`, when known, overrides the backoff (like an HTTP Retry-After). */
export class RateLimitError extends Schema.TaggedError<RateLimitError>()("Redrive/RateLimitError", {
  message: Schema.String,
  retryAfterMillis: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
}) {}

export type ClassifiedError = TimeoutError | ValidationError | ExternalApiError | QuotaExceededError | RateLimitError
