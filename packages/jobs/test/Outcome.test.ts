import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit, FiberId, Schema } from "effect"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import { decide, Outcome } from "../src/Outcome.js"
import * as Verdict from "../src/Verdict.js"

const Def = JobDefinition.make({ name: "t", payload: Schema.Unknown, retry: { maxAttempts: 5, base: "1 second", factor: 2, max: "10 seconds" } })
const job = (attempt: number) => ({ id: 1, type: "t", attempt, maxAttempts: 5 })

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
    const outcome = decide({ ...input, job: job(1), exit: Exit.fail(new JobErrors.RateLimitError({ message: "slow", retryAfterMillis: 45_000 })) })
    assert.strictEqual(outcome._tag === "Retried" ? outcome.runAt.getTime() : 0, now + 45_000)
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
  const entry = (kind: "snoozed" | "discarded" | "failed", tag: string, message: string, errorClass = "unknown") => ({
    attempt: 1,
    at: new Date(now),
    kind,
    errorClass,
    tag,
    message,
    durationMs: 3,
    workerId: "worker-1"
  })

  it("a snooze reschedules the job and records a snoozed entry", () => {
    const runAt = new Date(now + 30_000)
    assert.deepStrictEqual(
      decide({ ...input, job: job(1), exit: Exit.fail(Verdict.snooze("30 seconds", "export not ready")) }),
      Outcome.Snoozed({
        entry: { ...entry("snoozed", "Redrive/Snooze", "export not ready"), nextRunAt: runAt },
        errorClass: "unknown",
        reason: "export not ready",
        runAt
      })
    )
  })

  it("a discard ends the job with a discarded entry", () => {
    assert.deepStrictEqual(
      decide({ ...input, job: job(1), exit: Exit.fail(Verdict.discard("order cancelled")) }),
      Outcome.Discarded({
        entry: entry("discarded", "Redrive/Discard", "order cancelled"),
        errorClass: "unknown",
        reason: "order cancelled"
      })
    )
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

  it("only dead-letter-now picks the class: another verdict carrying one is still filed as unknown", () => {
    // As a verdict arrives when it crossed a process boundary: a plain object with an extra field.
    const discard = { _tag: "Redrive/Discard", reason: "order cancelled", message: "order cancelled", errorClass: "billing" }
    const outcome = decide({ ...input, job: job(1), exit: Exit.fail(discard) })
    assert.deepStrictEqual([outcome._tag, outcome._tag === "Discarded" ? outcome.errorClass : ""], ["Discarded", "unknown"])
  })

  it("retry-at is a failed attempt retried at the time it names", () => {
    const at = new Date(now + 3_600_000)
    assert.deepStrictEqual(
      decide({ ...input, job: job(1), exit: Exit.fail(Verdict.retryAt(at, "after the window")) }),
      Outcome.Retried({
        entry: { ...entry("failed", "Redrive/RetryAt", "after the window"), nextRunAt: at },
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
