/**
 * Verdicts: typed failures a handler returns to override the retry policy.
 *   yield* Verdict.snooze("30 seconds")      // try again later; the attempt is not used up
 *   yield* Verdict.discard("order cancelled") // stop; the job ends as cancelled, not dead-lettered
 *   yield* Verdict.deadLetterNow("bad data")  // stop; dead-letter now with the history so far
 *   yield* Verdict.retryAt(new Date(...))     // a failed attempt, retried at that time
 */
import { Duration, Schema } from "effect"

export class Snooze extends Schema.TaggedError<Snooze>()("Redrive/Snooze", {
  millis: Schema.Number.pipe(Schema.nonNegative()),
  reason: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.reason ?? `snoozed for ${this.millis} ms`
  }
}

export class Discard extends Schema.TaggedError<Discard>()("Redrive/Discard", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export class DeadLetterNow extends Schema.TaggedError<DeadLetterNow>()("Redrive/DeadLetterNow", {
  reason: Schema.String,
  /** The class to file the dead letter under; classified from the cause when absent. */
  errorClass: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.reason
  }
}

export class RetryAt extends Schema.TaggedError<RetryAt>()("Redrive/RetryAt", {
  at: Schema.DateFromSelf,
  reason: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.reason ?? `retry at ${this.at.toISOString()}`
  }
}

export type Verdict = Snooze | Discard | DeadLetterNow | RetryAt

export const snooze = (duration: Duration.DurationInput, reason?: string) =>
  new Snooze({ millis: Duration.toMillis(duration), ...(reason !== undefined ? { reason } : {}) })
export const discard = (reason: string) => new Discard({ reason })
export const deadLetterNow = (reason: string, errorClass?: string) =>
  new DeadLetterNow({ reason, ...(errorClass !== undefined ? { errorClass } : {}) })
export const retryAt = (at: Date, reason?: string) =>
  new RetryAt({ at, ...(reason !== undefined ? { reason } : {}) })

const tags = new Set(["Redrive/Snooze", "Redrive/Discard", "Redrive/DeadLetterNow", "Redrive/RetryAt"])

export const isVerdict = (u: unknown): u is Verdict =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.has(u._tag)
