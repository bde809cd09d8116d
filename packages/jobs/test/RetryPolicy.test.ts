import { assert, describe, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import * as RetryPolicy from "../src/RetryPolicy.js"

describe("retry policy", () => {
  it("exponential backoff with full jitter stays within [0, min(max, base·factor^(n-1))]", () => {
    const policy = RetryPolicy.make({ base: "1 second", factor: 2, max: "10 seconds" })
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(10_000, 1000 * 2 ** (attempt - 1))
      assert.strictEqual(RetryPolicy.ceiling(policy.backoff, attempt), ceiling)
      assert.strictEqual(RetryPolicy.delayMillis(policy, "unknown", attempt, 0), 0)
      assert.strictEqual(RetryPolicy.delayMillis(policy, "unknown", attempt, 0.999999), Math.round(0.999999 * ceiling))
      for (let i = 0; i < 200; i++) {
        const d = RetryPolicy.delayMillis(policy, "unknown", attempt, Math.random())
        assert.isTrue(d >= 0 && d <= ceiling, `attempt ${attempt}: ${d}`)
      }
    }
    const equal = RetryPolicy.make({ base: "1 second", jitter: "equal" })
    assert.strictEqual(RetryPolicy.delayMillis(equal, "unknown", 1, 0), 500)
    const none = RetryPolicy.make({ base: "1 second", jitter: "none" })
    assert.strictEqual(RetryPolicy.delayMillis(none, "unknown", 3, 0.3), 4000)
  })

  it.effect("jitter draws from Effect's Random, so a seeded run is reproducible", () =>
    Effect.gen(function*() {
      const draw = Effect.map(Random.next, (r) => RetryPolicy.delayMillis(RetryPolicy.defaultPolicy, "unknown", 4, r))
      const a = yield* Effect.withRandom(Random.make("seed"))(Effect.all([draw, draw, draw]))
      const b = yield* Effect.withRandom(Random.make("seed"))(Effect.all([draw, draw, draw]))
      assert.deepStrictEqual(a, b)
    }))

  it("class overrides: validation is not retried, quota backs off from a minute, custom rules apply", () => {
    const policy = RetryPolicy.make({ maxAttempts: 5, byClass: { external_api: { maxAttempts: 8 } } })
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "validation", 5), 0)
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "external_api", 5), 8)
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "unknown", 5), 5)
    assert.strictEqual(RetryPolicy.ceiling({ ...policy.backoff, ...policy.byClass["quota_exceeded"]!.backoff }, 1), 60_000)
    assert.throws(() => RetryPolicy.make({ maxAttempts: 0 }))
  })
})

