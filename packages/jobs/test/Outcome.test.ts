import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit, FiberId, Schema } from "effect"
import * as JobDefinition from "../src/JobDefinition.js"
import { decide, fingerprint } from "../src/Outcome.js"
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

  it("fingerprints group errors that differ only in numbers and ids", () => {
    const a = fingerprint("t", "external_api", "HttpError", "order 123 failed: id 0f8fad5b-d9cb-469f-a165-70867728950e")
    const b = fingerprint("t", "external_api", "HttpError", "order 987 failed: id 7c9e6679-7425-40de-944b-e07fc1f90ae7")
    const c = fingerprint("t", "external_api", "HttpError", "customer missing")
    assert.strictEqual(a, b)
    assert.notStrictEqual(a, c)
  })
})

