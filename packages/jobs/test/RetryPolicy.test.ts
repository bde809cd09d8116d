import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Random } from "effect"
import * as RetryPolicy from "../src/RetryPolicy.js"

describe("retry policy", () => {
  it("exponential backoff with full jitter stays within [0, min(max, base·factor^(n-1))]", () => {
    const policy = RetryPolicy.make({ base: "1 second", factor: 2, max: "10 seconds" })
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(10_000, 1000 * 2 ** (attempt - 1))
      assert.strictEqual(RetryPolicy.ceiling(policy.backoff, attempt), ceiling)
      assert.strictEqual(RetryPolicy.delayMillis(policy, "unknown", attempt, 0), 0)
      assert.strictEqual(RetryPolicy.delayMillis(policy, "unknown", attempt, 0.999999), Math.round(0.999999 * ceiling))
      // Draws across [0, 1): each delay is the draw's share of the ceiling.
      for (let i = 0; i < 100; i++) {
        const draw = i / 100
        assert.strictEqual(RetryPolicy.delayMillis(policy, "unknown", attempt, draw), Math.round(draw * ceiling))
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


describe("RetryPolicy.make", () => {
  it("defaults to 5 attempts, 1 s doubling up to 1 h, full jitter, with the built-in class rules", () => {
    const policy = RetryPolicy.make()
    assert.strictEqual(policy.maxAttempts, 5)
    assert.strictEqual(Duration.toMillis(policy.backoff.base), 1000)
    assert.strictEqual(policy.backoff.factor, 2)
    assert.strictEqual(Duration.toMillis(policy.backoff.max), 3_600_000)
    assert.strictEqual(policy.backoff.jitter, "full")
    assert.deepStrictEqual(policy.byClass, RetryPolicy.defaultByClass)
  })

  it("takes every option given, and adds class rules to the built-in ones", () => {
    const policy = RetryPolicy.make({
      maxAttempts: 3,
      base: "250 millis",
      factor: 3,
      max: "2 minutes",
      jitter: "equal",
      byClass: { external_api: { maxAttempts: 8 } }
    })
    assert.strictEqual(policy.maxAttempts, 3)
    assert.strictEqual(Duration.toMillis(policy.backoff.base), 250)
    assert.strictEqual(policy.backoff.factor, 3)
    assert.strictEqual(Duration.toMillis(policy.backoff.max), 120_000)
    assert.strictEqual(policy.backoff.jitter, "equal")
    assert.deepStrictEqual(policy.byClass, {
      validation: { retry: false },
      quota_exceeded: { backoff: { base: Duration.minutes(1) } },
      external_api: { maxAttempts: 8 }
    })
  })

  it("accepts a single attempt and a constant backoff (factor 1)", () => {
    assert.strictEqual(RetryPolicy.make({ maxAttempts: 1 }).maxAttempts, 1)
    const constant = RetryPolicy.make({ factor: 1, base: "2 seconds", jitter: "none" })
    assert.deepStrictEqual([1, 2, 5].map((n) => RetryPolicy.delayMillis(constant, "unknown", n, 0.5)), [2000, 2000, 2000])
  })

  it("refuses a maxAttempts that is not a positive integer, naming the value", () => {
    assert.throws(() => RetryPolicy.make({ maxAttempts: 0 }), RangeError, "maxAttempts must be an integer >= 1, got 0")
    assert.throws(() => RetryPolicy.make({ maxAttempts: 2.5 }), RangeError, "maxAttempts must be an integer >= 1, got 2.5")
  })

  it("refuses a factor below 1 (a shrinking backoff) or not a number, naming the value", () => {
    assert.throws(() => RetryPolicy.make({ factor: 0.5 }), RangeError, "factor must be >= 1, got 0.5")
    assert.throws(() => RetryPolicy.make({ factor: Number.NaN }), RangeError, "factor must be >= 1, got NaN")
  })
})

describe("backoff", () => {
  const policy = RetryPolicy.make({ base: "1 second", factor: 2, max: "10 seconds", jitter: "none" })

  it("the ceiling after each attempt is base·factor^(attempt-1), capped at max", () => {
    assert.deepStrictEqual(
      [1, 2, 3, 4, 5, 6].map((attempt) => RetryPolicy.ceiling(policy.backoff, attempt)),
      [1000, 2000, 4000, 8000, 10_000, 10_000]
    )
    // A factor so large the delay overflows to Infinity still waits the cap.
    assert.strictEqual(RetryPolicy.ceiling({ ...policy.backoff, factor: 1e308 }, 4), 10_000)
  })

  it("without jitter the delay is the ceiling, whatever the draw", () => {
    assert.deepStrictEqual([0, 0.5, 0.999].map((r) => RetryPolicy.delayMillis(policy, "unknown", 3, r)), [4000, 4000, 4000])
  })

  it("equal jitter draws in [ceiling/2, ceiling]", () => {
    const equal = RetryPolicy.make({ base: "1 second", factor: 2, max: "10 seconds", jitter: "equal" })
    assert.deepStrictEqual(
      [0, 0.25, 0.5, 0.999999].map((r) => RetryPolicy.delayMillis(equal, "unknown", 3, r)),
      [2000, 2500, 3000, 4000]
    )
    assert.deepStrictEqual([0, 0.5].map((r) => RetryPolicy.delayMillis(equal, "unknown", 6, r)), [5000, 7500])
  })

  it("full jitter draws in [0, ceiling]", () => {
    const full = RetryPolicy.make({ base: "1 second", factor: 2, max: "10 seconds" })
    assert.deepStrictEqual([0, 0.25, 0.5, 0.999999].map((r) => RetryPolicy.delayMillis(full, "unknown", 3, r)), [0, 1000, 2000, 4000])
  })

  it("a class's backoff overrides only the fields it names", () => {
    // quota_exceeded starts from a minute by default; the policy's factor, cap and jitter still apply.
    const quota = RetryPolicy.make({ max: "3 minutes", jitter: "none" })
    assert.deepStrictEqual(
      [1, 2, 3].map((attempt) => RetryPolicy.delayMillis(quota, "quota_exceeded", attempt, 0.5)),
      [60_000, 120_000, 180_000]
    )
    assert.strictEqual(RetryPolicy.delayMillis(quota, "unknown", 1, 0.5), 1000)
  })
})

describe("attempts per error class", () => {
  it("a class rule with retry: false allows no retry, even when it also names attempts", () => {
    const policy = RetryPolicy.make({ byClass: { auth: { retry: false, maxAttempts: 9 }, flaky: { retry: true } } })
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "auth", 5), 0)
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "flaky", 5), 5)
  })

  it("a class rule can lower the job's attempts as well as raise them", () => {
    const policy = RetryPolicy.make({ byClass: { timeout: { maxAttempts: 2 } } })
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "timeout", 5), 2)
  })

  it("the caller's rule for a built-in class replaces the built-in rule", () => {
    const policy = RetryPolicy.make({ byClass: { validation: { maxAttempts: 3 } } })
    assert.strictEqual(RetryPolicy.maxAttemptsFor(policy, "validation", 5), 3)
  })
})

describe("free waits", () => {
  it("rate limits get 20 free waits by default; rateLimit.maxWaits changes the cap, 0 turns them off", () => {
    assert.deepStrictEqual(RetryPolicy.make().rateLimit, { maxWaits: 20 })
    assert.deepStrictEqual(RetryPolicy.defaultRateLimit, { maxWaits: 20 })
    assert.strictEqual(RetryPolicy.freeWaitsFor(RetryPolicy.defaultPolicy, "rate_limit"), 20)
    assert.strictEqual(RetryPolicy.freeWaitsFor(RetryPolicy.make({ rateLimit: { maxWaits: 3 } }), "rate_limit"), 3)
    assert.strictEqual(RetryPolicy.freeWaitsFor(RetryPolicy.make({ rateLimit: { maxWaits: 0 } }), "rate_limit"), 0)
    assert.strictEqual(RetryPolicy.freeWaitsFor(RetryPolicy.make({ rateLimit: {} }), "rate_limit"), 20)
  })

  it("other classes have none unless their class rule gives some; a class rule's freeWaits wins", () => {
    const policy = RetryPolicy.make({
      rateLimit: { maxWaits: 9 },
      byClass: { quota_exceeded: { freeWaits: 4 }, rate_limit: { freeWaits: 2 }, external_api: { maxAttempts: 9 } }
    })
    assert.deepStrictEqual(
      ["rate_limit", "quota_exceeded", "external_api", "unknown"].map((c) => RetryPolicy.freeWaitsFor(policy, c)),
      [2, 4, 0, 0]
    )
    assert.strictEqual(RetryPolicy.freeWaitsFor(RetryPolicy.make({ byClass: { rate_limit: { freeWaits: 0 } } }), "rate_limit"), 0)
  })

  it("a class that is not retried has none, whatever it says", () => {
    const policy = RetryPolicy.make({ byClass: { rate_limit: { retry: false }, validation: { retry: false, freeWaits: 3 } } })
    assert.strictEqual(RetryPolicy.freeWaitsFor(policy, "rate_limit"), 0)
    assert.strictEqual(RetryPolicy.freeWaitsFor(policy, "validation"), 0)
    assert.strictEqual(RetryPolicy.freeWaitsFor(RetryPolicy.make({ byClass: { rate_limit: { retry: true } } }), "rate_limit"), 20)
  })

  it("refuses a maxWaits that is not a non-negative integer, naming the value", () => {
    assert.throws(() => RetryPolicy.make({ rateLimit: { maxWaits: -1 } }), RangeError, "rateLimit.maxWaits must be an integer >= 0, got -1")
    assert.throws(() => RetryPolicy.make({ rateLimit: { maxWaits: 1.5 } }), RangeError, "rateLimit.maxWaits must be an integer >= 0, got 1.5")
  })
})
