/**
 * How failed attempts are retried: at most `maxAttempts` attempts in all, waiting
 * `base · factor^(attempt-1)` capped at `max` between them, with full jitter by default
 * (a uniform draw in [0, delay], which spreads a thundering herd best). Error classes can
 * override any of it, or stop retrying altogether.
 *
 * Rate limits do not burn attempts: a `rate_limit` failure waits for its Retry-After (else the
 * backoff) without using an attempt, up to `rateLimit.maxWaits` such waits per job (default 20),
 * as BullMQ's RateLimitError and River's snooze do; past the cap it is an ordinary failed
 * attempt. A class rule's `freeWaits` gives any class such waits (or takes them away).
 */
import { Duration } from "effect"

export type Jitter = "full" | "equal" | "none"

export interface Backoff {
  readonly base: Duration.Duration
  readonly factor: number
  readonly max: Duration.Duration
  readonly jitter: Jitter
}

export interface ClassRule {
  readonly maxAttempts?: number
  readonly backoff?: Partial<Backoff>
  /** false: the first failure of this class dead-letters the job. */
  readonly retry?: boolean
  /**
   * Failures of this class wait without using an attempt while the job has waited so fewer
   * than this many times (all classes' free waits count); for rate_limit it replaces
   * `rateLimit.maxWaits`, for other classes it defaults to 0.
   */
  readonly freeWaits?: number
}

export interface RateLimit {
  /** Free waits of a job for rate_limit failures (their Retry-After, else the backoff). */
  readonly maxWaits: number
}

export interface RetryPolicy {
  readonly maxAttempts: number
  readonly backoff: Backoff
  readonly byClass: Readonly<Record<string, ClassRule>>
  readonly rateLimit: RateLimit
}

export interface RetryPolicyOptions {
  readonly maxAttempts?: number
  readonly base?: Duration.DurationInput
  readonly factor?: number
  readonly max?: Duration.DurationInput
  readonly jitter?: Jitter
  readonly byClass?: Readonly<Record<string, ClassRule>>
  readonly rateLimit?: Partial<RateLimit>
}

/**
 * Defaults: 5 attempts, 1 s doubling to at most 1 h, full jitter. Validation failures are not
 * retried (bad input stays bad); quota failures back off from 1 minute.
 */
export const defaultByClass: Readonly<Record<string, ClassRule>> = {
  validation: { retry: false },
  quota_exceeded: { backoff: { base: Duration.minutes(1) } }
}

/** 20 free waits: at a typical Retry-After of a few seconds to a minute, minutes to tens of minutes of throttling. */
export const defaultRateLimit: RateLimit = { maxWaits: 20 }

export const make = (options: RetryPolicyOptions = {}): RetryPolicy => {
  const maxAttempts = options.maxAttempts ?? 5
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`)
  }
  const maxWaits = options.rateLimit?.maxWaits ?? defaultRateLimit.maxWaits
  if (!Number.isInteger(maxWaits) || maxWaits < 0) {
    throw new RangeError(`rateLimit.maxWaits must be an integer >= 0, got ${maxWaits}`)
  }
  const factor = options.factor ?? 2
  if (!(factor >= 1)) throw new RangeError(`factor must be >= 1, got ${factor}`)
  return {
    maxAttempts,
    backoff: {
      base: Duration.decode(options.base ?? "1 second"),
      factor,
      max: Duration.decode(options.max ?? "1 hour"),
      jitter: options.jitter ?? "full"
    },
    byClass: { ...defaultByClass, ...options.byClass },
    rateLimit: { maxWaits }
  }
}

export const defaultPolicy = make()

/** Attempts allowed for a failure of `errorClass` (a class rule may lower or raise it). */
export const maxAttemptsFor = (policy: RetryPolicy, errorClass: string, jobMaxAttempts: number): number => {
  const rule = policy.byClass[errorClass]
  if (rule?.retry === false) return 0
  return rule?.maxAttempts ?? jobMaxAttempts
}

/**
 * How many free waits a job may have had for a failure of `errorClass` to wait without using an
 * attempt: the class rule's `freeWaits`, else `rateLimit.maxWaits` for rate_limit, else none. A
 * class that is not retried never waits.
 */
export const freeWaitsFor = (policy: RetryPolicy, errorClass: string): number => {
  const rule = policy.byClass[errorClass]
  if (rule?.retry === false) return 0
  return rule?.freeWaits ?? (errorClass === "rate_limit" ? policy.rateLimit.maxWaits : 0)
}

/** The un-jittered delay after the `attempt`-th attempt failed (attempt >= 1). */
export const ceiling = (backoff: Backoff, attempt: number): number => {
  const base = Duration.toMillis(backoff.base)
  const max = Duration.toMillis(backoff.max)
  const exponent = Math.max(0, attempt - 1)
  const raw = base * Math.pow(backoff.factor, exponent)
  return Math.min(max, Number.isFinite(raw) ? raw : max)
}

/** The delay in milliseconds; `random` is a draw in [0, 1). */
export const delayMillis = (policy: RetryPolicy, errorClass: string, attempt: number, random: number): number => {
  const override = policy.byClass[errorClass]?.backoff
  const backoff = override ? { ...policy.backoff, ...override } : policy.backoff
  const top = ceiling(backoff, attempt)
  switch (backoff.jitter) {
    case "none":
      return top
    case "equal":
      return Math.round(top / 2 + random * (top / 2))
    case "full":
      return Math.round(random * top)
  }
}
