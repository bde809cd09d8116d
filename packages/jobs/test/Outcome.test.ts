import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit, FiberId, Schema } from "effect"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import { decide, Outcome } from "../src/Outcome.js"
import * as Verdict from "../src/Verdict.js"

const Def = JobDefinition.make({ name: "t", payload: Schema.Unknown, retry: { maxAttempts: 5, base: "1 second", factor: 2, max: "10 seconds" } })
const job = (attempt: number, freeWaits = 0) => ({ id: 1, type: "t", attempt, maxAttempts: 5, freeWaits })

describe("decide", () => {
  const base = { definition: Def, workerId: "w", now: 1_000_000, durationMs: 5, random: 0.5 }

  it("retries an unknown error with backoff, then dead-letters at max attempts", () => {
    const retried = decide({ ...base, job: job(2), exit: Exit.fail(new Error("boom")) })
    assert.strictEqual(retried._tag, "Retried")
    if (retried._tag === "Retried") {
      assert.strictEqual(retried.runAt.getTime(), 1_000_000 + 1000)
      assert.strictEqual(retried.errorClass, "unknown")
      assert.strictEqual(retried.entry.nextRunAt?.getTime(), retried.runAt.getTime())
    }
    assert.strictEqual(decide({ ...base, job: job(5), exit: Exit.fail(new Error("boom")) })._tag, "DeadLettered")
  })

  it("verdicts override the policy; a snooze is not a failure", () => {
    const snoozed = decide({ ...base, job: job(1), exit: Exit.fail(Verdict.snooze("30 seconds")) })
    assert.strictEqual(snoozed._tag, "Snoozed")
    if (snoozed._tag === "Snoozed") assert.strictEqual(snoozed.runAt.getTime(), 1_030_000)
    assert.strictEqual(decide({ ...base, job: job(1), exit: Exit.fail(Verdict.discard("x")) })._tag, "Discarded")
    assert.strictEqual(decide({ ...base, job: job(1), exit: Exit.fail(Verdict.deadLetterNow("x")) })._tag, "DeadLettered")
    const at = new Date(2_000_000)
    const retryAt = decide({ ...base, job: job(1), exit: Exit.fail(Verdict.retryAt(at)) })
    assert.strictEqual(retryAt._tag === "Retried" ? retryAt.runAt.getTime() : 0, 2_000_000)
    assert.strictEqual(decide({ ...base, job: job(1), exit: Exit.failCause(Cause.interrupt(FiberId.none)) })._tag, "Released")
  })
})


describe("what an attempt becomes", () => {
  const now = Date.parse("2026-11-23T10:00:00.000Z")
  const input = { definition: Def, workerId: "worker-1", now, durationMs: 12.4, random: 0.5 }

  it("a success completes the job", () => {
    assert.deepStrictEqual(decide({ ...input, job: job(1), exit: Exit.void }), Outcome.Completed())
  })

  it("a retried failure records the attempt, its next run and no stack", () => {
    const outcome = decide({ ...input, job: job(2), exit: Exit.fail(new Error("card declined")) })
    // Full jitter, draw 0.5, second attempt: half of the 2 s ceiling.
    const runAt = new Date(now + 1000)
    assert.deepStrictEqual(
      outcome,
      Outcome.Retried({
        entry: {
          attempt: 2,
          at: new Date(now),
          kind: "failed",
          errorClass: "unknown",
          tag: "Error",
          message: "card declined",
          durationMs: 12,
          workerId: "worker-1",
          nextRunAt: runAt
        },
        errorClass: "unknown",
        reason: "card declined",
        runAt
      })
    )
  })

  it("a retried defect keeps its stack", () => {
    const stack = "TypeError: x is undefined\n    at handler (job.ts:3:9)"
    const outcome = decide({ ...input, job: job(1), exit: Exit.die(Object.assign(new TypeError("x is undefined"), { stack })) })
    assert.strictEqual(outcome._tag, "Retried")
    if (outcome._tag === "Retried") {
      assert.strictEqual(outcome.entry.stack, stack)
      assert.strictEqual(outcome.entry.tag, "TypeError")
    }
  })

  it("the attempt that dead-letters a job keeps its stack and has no next run", () => {
    const stack = "Error: still failing\n    at handler (job.ts:3:9)"
    const outcome = decide({ ...input, job: job(5), exit: Exit.fail(Object.assign(new Error("still failing"), { stack })) })
    assert.strictEqual(outcome._tag, "DeadLettered")
    if (outcome._tag === "DeadLettered") {
      assert.strictEqual(outcome.entry.stack, stack)
      assert.isFalse("nextRunAt" in outcome.entry)
      assert.strictEqual(outcome.entry.kind, "failed")
    }
  })

  it("a timeout that uses up the attempts dead-letters as a timeout", () => {
    const outcome = decide({ ...input, job: job(5), exit: Exit.fail(new JobErrors.TimeoutError({ message: "took 5 minutes" })) })
    assert.deepStrictEqual([outcome._tag, outcome._tag === "DeadLettered" ? outcome.entry.kind : ""], ["DeadLettered", "timeout"])
  })

  it("a typed validation failure dead-letters at the first attempt", () => {
    const outcome = decide({ ...input, job: job(1), exit: Exit.fail(new JobErrors.ValidationError({ message: "no email" })) })
    assert.strictEqual(outcome._tag, "DeadLettered")
    if (outcome._tag === "DeadLettered") assert.strictEqual(outcome.errorClass, "validation")
  })

  it("an error's own retry time wins over the backoff", () => {
    const unavailable = Object.assign(new Error("Service Unavailable"), { status: 503, headers: { "retry-after": "45" } })
    const outcome = decide({ ...input, job: job(1), exit: Exit.fail(unavailable) })
    assert.strictEqual(outcome._tag === "Retried" ? outcome.runAt.getTime() : 0, now + 45_000)
    const spent = decide({ ...input, job: job(1, 20), exit: Exit.fail(new JobErrors.RateLimitError({ message: "slow", retryAfterMillis: 45_000 })) })
    assert.strictEqual(spent._tag === "Retried" ? spent.runAt.getTime() : 0, now + 45_000)
  })

  it("records the attempt's duration rounded to a millisecond, never negative", () => {
    const duration = (durationMs: number) => {
      const outcome = decide({ ...input, durationMs, job: job(1), exit: Exit.fail(new Error("x")) })
      return outcome._tag === "Retried" ? outcome.entry.durationMs : undefined
    }
    assert.deepStrictEqual([duration(12.6), duration(0), duration(-3)], [13, 0, 0])
  })
})

describe("verdicts", () => {
  const now = Date.parse("2026-11-23T10:00:00.000Z")
  const input = { definition: Def, workerId: "worker-1", now, durationMs: 3, random: 0.5 }
  const entry = (kind: "snoozed" | "discarded" | "failed", tag: string, message: string, errorClass: string) => ({
    attempt: 1,
    at: new Date(now),
    kind,
    errorClass,
    tag,
    message,
    durationMs: 3,
    workerId: "worker-1"
  })

  it("a snooze reschedules the job and records a snoozed entry, filed under snoozed", () => {
    const runAt = new Date(now + 30_000)
    assert.deepStrictEqual(
      decide({ ...input, job: job(1), exit: Exit.fail(Verdict.snooze("30 seconds", "export not ready")) }),
      Outcome.Snoozed({
        entry: { ...entry("snoozed", "Redrive/Snooze", "export not ready", "snoozed"), nextRunAt: runAt },
        errorClass: "snoozed",
        reason: "export not ready",
        runAt
      })
    )
  })

  it("a discard ends the job with a discarded entry, filed under discarded", () => {
    assert.deepStrictEqual(
      decide({ ...input, job: job(1), exit: Exit.fail(Verdict.discard("order cancelled")) }),
      Outcome.Discarded({
        entry: entry("discarded", "Redrive/Discard", "order cancelled", "discarded"),
        errorClass: "discarded",
        reason: "order cancelled"
      })
    )
  })

  it("a snooze of a job with no free waits left still snoozes: verdicts do not use free waits", () => {
    const snoozed = decide({ ...input, job: job(1, 20), exit: Exit.fail(Verdict.snooze("1 minute")) })
    assert.deepStrictEqual([snoozed._tag, snoozed._tag === "Snoozed" ? snoozed.errorClass : ""], ["Snoozed", "snoozed"])
  })

  it("dead-letter-now files the job under the class it names, with no stack", () => {
    assert.deepStrictEqual(
      decide({ ...input, job: job(1), exit: Exit.fail(Verdict.deadLetterNow("bad data", "validation")) }),
      Outcome.DeadLettered({
        entry: entry("failed", "Redrive/DeadLetterNow", "bad data", "validation"),
        errorClass: "validation",
        reason: "bad data"
      })
    )
    const unfiled = decide({ ...input, job: job(1), exit: Exit.fail(Verdict.deadLetterNow("bad data")) })
    assert.strictEqual(unfiled._tag === "DeadLettered" ? unfiled.errorClass : "", "unknown")
  })

  it("only dead-letter-now picks the class: a discard carrying one is still filed as discarded", () => {
    // As a verdict arrives when it crossed a process boundary: a plain object with an extra field.
    const discard = { _tag: "Redrive/Discard", reason: "order cancelled", message: "order cancelled", errorClass: "billing" }
    const outcome = decide({ ...input, job: job(1), exit: Exit.fail(discard) })
    assert.deepStrictEqual([outcome._tag, outcome._tag === "Discarded" ? outcome.errorClass : ""], ["Discarded", "discarded"])
  })

  it("retry-at is a failed attempt retried at the time it names", () => {
    const at = new Date(now + 3_600_000)
    assert.deepStrictEqual(
      decide({ ...input, job: job(1), exit: Exit.fail(Verdict.retryAt(at, "after the window")) }),
      Outcome.Retried({
        entry: { ...entry("failed", "Redrive/RetryAt", "after the window", "unknown"), nextRunAt: at },
        errorClass: "unknown",
        reason: "after the window",
        runAt: at
      })
    )
  })

  it("retry-at on the last attempt dead-letters the job", () => {
    const outcome = decide({ ...input, job: job(5), exit: Exit.fail(Verdict.retryAt(new Date(now + 1000))) })
    assert.strictEqual(outcome._tag, "DeadLettered")
  })
})

describe("rate limits wait without using an attempt", () => {
  const now = Date.parse("2026-11-23T10:00:00.000Z")
  const input = { definition: Def, workerId: "worker-1", now, durationMs: 4, random: 0.5 }
  const limited = (retryAfterMillis?: number) =>
    Exit.fail(new JobErrors.RateLimitError({ message: "429 Too Many Requests", ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {}) }))

  it("a rate limit with free waits left waits for its Retry-After and records a waited entry", () => {
    const runAt = new Date(now + 45_000)
    assert.deepStrictEqual(
      decide({ ...input, job: job(3, 7), exit: limited(45_000) }),
      Outcome.Waited({
        entry: {
          attempt: 3,
          at: new Date(now),
          kind: "waited",
          errorClass: "rate_limit",
          tag: "Redrive/RateLimitError",
          message: "429 Too Many Requests",
          durationMs: 4,
          workerId: "worker-1",
          nextRunAt: runAt
        },
        errorClass: "rate_limit",
        reason: "429 Too Many Requests",
        runAt
      })
    )
  })

  it("without a Retry-After, it backs off one step per failure, waited or not", () => {
    const waitOf = (attempt: number, freeWaits: number) => {
      const outcome = decide({ ...input, random: 0.999, job: job(attempt, freeWaits), exit: limited() })
      return outcome._tag === "Waited" ? outcome.runAt.getTime() - now : -1
    }
    // Def: 1 s doubling to at most 10 s, full jitter (the draw 0.999 takes nearly all of it).
    assert.deepStrictEqual([waitOf(1, 0), waitOf(1, 1), waitOf(2, 1), waitOf(1, 3), waitOf(1, 19)], [999, 1998, 3996, 7992, 9990])
  })

  it("the 20th free wait is the last; then a rate limit is an ordinary failed attempt", () => {
    assert.strictEqual(decide({ ...input, job: job(1, 19), exit: limited(1000) })._tag, "Waited")
    const retried = decide({ ...input, job: job(1, 20), exit: limited(1000) })
    assert.deepStrictEqual([retried._tag, retried._tag === "Retried" ? retried.entry.kind : ""], ["Retried", "failed"])
    assert.strictEqual(retried._tag === "Retried" ? retried.runAt.getTime() : 0, now + 1000)
    assert.strictEqual(decide({ ...input, job: job(5, 20), exit: limited(1000) })._tag, "DeadLettered")
    // Free waits left: even the last attempt waits instead of dead-lettering.
    assert.strictEqual(decide({ ...input, job: job(5, 0), exit: limited(1000) })._tag, "Waited")
  })

  it("the cap is the definition's rateLimit.maxWaits; a class rule's freeWaits overrides it or gives another class some", () => {
    const capped = JobDefinition.make({ name: "c", payload: Schema.Unknown, retry: { rateLimit: { maxWaits: 2 } } })
    assert.strictEqual(decide({ ...input, definition: capped, job: job(1, 1), exit: limited(1000) })._tag, "Waited")
    assert.strictEqual(decide({ ...input, definition: capped, job: job(1, 2), exit: limited(1000) })._tag, "Retried")
    const none = JobDefinition.make({ name: "n", payload: Schema.Unknown, retry: { rateLimit: { maxWaits: 0 } } })
    assert.strictEqual(decide({ ...input, definition: none, job: job(1), exit: limited(1000) })._tag, "Retried")
    const byClass = JobDefinition.make({
      name: "b",
      payload: Schema.Unknown,
      retry: { byClass: { rate_limit: { freeWaits: 1 }, quota_exceeded: { freeWaits: 3 } } }
    })
    assert.strictEqual(decide({ ...input, definition: byClass, job: job(1, 1), exit: limited(1000) })._tag, "Retried")
    const quota = Exit.fail(new JobErrors.QuotaExceededError({ message: "spent" }))
    assert.strictEqual(decide({ ...input, definition: byClass, job: job(1, 2), exit: quota })._tag, "Waited")
    assert.strictEqual(decide({ ...input, definition: byClass, job: job(1, 3), exit: quota })._tag, "Retried")
    // Other classes have no free waits by default.
    assert.strictEqual(decide({ ...input, job: job(1), exit: Exit.fail(new JobErrors.ExternalApiError({ message: "down" })) })._tag, "Retried")
  })

  it("a verdict never takes a free wait, even where its class would", () => {
    const generous = JobDefinition.make({ name: "g", payload: Schema.Unknown, retry: { byClass: { unknown: { freeWaits: 3 } } } })
    const at = new Date(now + 60_000)
    const retried = decide({ ...input, definition: generous, job: job(1), exit: Exit.fail(Verdict.retryAt(at)) })
    assert.deepStrictEqual([retried._tag, retried._tag === "Retried" ? retried.runAt : undefined], ["Retried", at])
    assert.strictEqual(decide({ ...input, definition: generous, job: job(1), exit: Exit.fail(new Error("x")) })._tag, "Waited")
  })

  it("a class that is never retried never waits either", () => {
    const noRetry = JobDefinition.make({
      name: "r",
      payload: Schema.Unknown,
      retry: { byClass: { rate_limit: { retry: false, freeWaits: 5 } } }
    })
    assert.strictEqual(decide({ ...input, definition: noRetry, job: job(1), exit: limited(1000) })._tag, "DeadLettered")
  })

  it("a 429 found by the classification rules waits the same way, and the rules in force are the ones used", () => {
    const http429 = Exit.fail(Object.assign(new Error("Too Many Requests"), { status: 429, headers: { "retry-after": "7" } }))
    const waited = decide({ ...input, job: job(1), exit: http429 })
    assert.deepStrictEqual([waited._tag, waited._tag === "Waited" ? waited.runAt.getTime() - now : 0], ["Waited", 7000])
    const statusBlind = decide({ ...input, job: job(1), exit: http429, rules: [] })
    assert.deepStrictEqual([statusBlind._tag, statusBlind._tag === "Retried" ? statusBlind.errorClass : ""], ["Retried", "unknown"])
  })
})
