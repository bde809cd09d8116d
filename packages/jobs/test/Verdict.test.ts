import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as JobErrors from "../src/JobErrors.js"
import * as Verdict from "../src/Verdict.js"

describe("Verdict", () => {
  it("a snooze carries its duration in milliseconds, and says so when no reason is given", () => {
    const snooze = Verdict.snooze("30 seconds")
    assert.deepStrictEqual(snooze, new Verdict.Snooze({ millis: 30_000 }))
    assert.isFalse("reason" in snooze)
    assert.strictEqual(snooze.message, "snoozed for 30000 ms")
    const explained = Verdict.snooze("2 minutes", "waiting for the upstream export")
    assert.strictEqual(explained.millis, 120_000)
    assert.strictEqual(explained.reason, "waiting for the upstream export")
    assert.strictEqual(explained.message, "waiting for the upstream export")
  })

  it("a discard's message is its reason", () => {
    const discard = Verdict.discard("order cancelled")
    assert.strictEqual(discard._tag, "Redrive/Discard")
    assert.strictEqual(discard.message, "order cancelled")
  })

  it("dead-letter-now carries the class to file it under only when one is given", () => {
    const filed = Verdict.deadLetterNow("bad data", "validation")
    assert.strictEqual(filed.errorClass, "validation")
    assert.strictEqual(filed.message, "bad data")
    const unfiled = Verdict.deadLetterNow("bad data")
    assert.deepStrictEqual(unfiled, new Verdict.DeadLetterNow({ reason: "bad data" }))
    assert.isFalse("errorClass" in unfiled)
  })

  it("retry-at names the time when no reason is given", () => {
    const at = new Date("2026-11-23T10:00:00.000Z")
    const plain = Verdict.retryAt(at)
    assert.deepStrictEqual(plain, new Verdict.RetryAt({ at }))
    assert.isFalse("reason" in plain)
    assert.strictEqual(plain.message, "retry at 2026-11-23T10:00:00.000Z")
    const explained = Verdict.retryAt(at, "after the maintenance window")
    assert.strictEqual(explained.at, at)
    assert.strictEqual(explained.message, "after the maintenance window")
  })

  it("recognises the four verdicts, also as plain objects, and nothing else", () => {
    for (const verdict of [Verdict.snooze("1 second"), Verdict.discard("x"), Verdict.deadLetterNow("x"), Verdict.retryAt(new Date(0))]) {
      assert.isTrue(Verdict.isVerdict(verdict), verdict._tag)
    }
    assert.isTrue(Verdict.isVerdict({ _tag: "Redrive/Discard", reason: "decoded from the wire" }))
    const others: ReadonlyArray<unknown> = [
      null,
      undefined,
      "Redrive/Snooze",
      42,
      {},
      { _tag: 7 },
      { _tag: "Redrive/Other" },
      new JobErrors.ValidationError({ message: "bad" }),
      Schema.decodeUnknownEither(Schema.Number)("x")
    ]
    for (const other of others) assert.isFalse(Verdict.isVerdict(other), String(other))
  })
})
