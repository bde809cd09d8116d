/**
 * The circuit breaker's state machine, without a database: plain timestamps (ms) and per-second
 * buckets, as the maintenance leader reads them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Circuit from "../src/Circuit.js"

const s = Circuit.defaults
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0)
const sec = (n: number) => T0 + n * 1000

const bucket = (at: number, attempts: number, failures: number): Circuit.Bucket => ({ at, attempts, failures })
const closed = Circuit.State.Closed({ countedFrom: T0 - 3_600_000 })
const observe = (now: number, buckets: ReadonlyArray<Circuit.Bucket>, controlled = true): Circuit.Observation => ({
  now,
  buckets,
  controlled
})

/** `failures` of `attempts` in one bucket at `at`, decided at `now`. */
const decideClosed = (attempts: number, failures: number, settings = s, at = sec(10), now = sec(11)) =>
  Circuit.decide(settings, closed, observe(now, [bucket(at, attempts, failures)]))

describe("circuit breaker settings", () => {
  it("`true` is the documented defaults: external_api and timeout, 50 % of 20 in 60 s, 30 s doubling to 10 min, 3 probes", () => {
    assert.deepStrictEqual(Circuit.settings(true), {
      tripOn: ["external_api", "timeout"],
      failureRatio: 0.5,
      minAttempts: 20,
      windowMs: 60_000,
      cooldownMs: 30_000,
      maxCooldownMs: 600_000,
      probes: 3
    })
    assert.deepStrictEqual(Circuit.settings({ window: "10 seconds", probes: 1, tripOn: ["timeout", "timeout"] }), {
      ...Circuit.defaults,
      windowMs: 10_000,
      probes: 1,
      tripOn: ["timeout"]
    })
    // A cool-down above the default cap raises the cap with it.
    assert.strictEqual(Circuit.settings({ cooldown: "20 minutes" }).maxCooldownMs, 1_200_000)
    // The edges that are allowed: a window of exactly 1 s, no cool-down at all.
    assert.strictEqual(Circuit.settings({ window: "1 second" }).windowMs, 1000)
    assert.strictEqual(Circuit.settings({ cooldown: 0 }).cooldownMs, 0)
  })

  it("refuses settings that cannot work, naming them", () => {
    for (
      const [options, name] of [
        [{ failureRatio: 0 }, "failureRatio"],
        [{ failureRatio: 1.5 }, "failureRatio"],
        [{ minAttempts: 0 }, "minAttempts"],
        [{ minAttempts: 2.5 }, "minAttempts"],
        [{ probes: 0 }, "probes"],
        [{ window: "500 millis" }, "window"],
        [{ tripOn: [] }, "tripOn"],
        [{ cooldown: "1 minute", maxCooldown: "30 seconds" }, "cooldown"]
      ] as const
    ) {
      assert.throws(() => Circuit.settings(options), new RegExp(name))
    }
  })
})

describe("counting attempts", () => {
  it("successes and failures of any class are attempts; only trip classes are failures; snoozes, discards and releases do not count", () => {
    const t = (outcome: { _tag: string; errorClass?: string }) => Circuit.tally(s, outcome)
    assert.deepStrictEqual(t({ _tag: "Completed" }), { attempts: 1, failures: 0 })
    assert.deepStrictEqual(t({ _tag: "Retried", errorClass: "external_api" }), { attempts: 1, failures: 1 })
    assert.deepStrictEqual(t({ _tag: "Retried", errorClass: "timeout" }), { attempts: 1, failures: 1 })
    assert.deepStrictEqual(t({ _tag: "DeadLettered", errorClass: "timeout" }), { attempts: 1, failures: 1 })
    assert.deepStrictEqual(t({ _tag: "DeadLettered", errorClass: "validation" }), { attempts: 1, failures: 0 })
    assert.deepStrictEqual(t({ _tag: "Retried", errorClass: "unknown" }), { attempts: 1, failures: 0 })
    assert.deepStrictEqual(t({ _tag: "Retried", errorClass: "rate_limit" }), { attempts: 1, failures: 0 })
    assert.deepStrictEqual(t({ _tag: "Snoozed", errorClass: "external_api" }), { attempts: 0, failures: 0 })
    assert.deepStrictEqual(t({ _tag: "Discarded", errorClass: "external_api" }), { attempts: 0, failures: 0 })
    assert.deepStrictEqual(t({ _tag: "Released" }), { attempts: 0, failures: 0 })
    assert.deepStrictEqual(Circuit.tally({ tripOn: ["rate_limit"] }, { _tag: "Retried", errorClass: "rate_limit" }), {
      attempts: 1,
      failures: 1
    })
  })
})

describe("closed: when the circuit opens", () => {
  it("opens at exactly the ratio of at least the minimum attempts, not below either", () => {
    assert.strictEqual(decideClosed(20, 10)._tag, "Open", "10 of 20 is 50 %")
    assert.strictEqual(decideClosed(20, 9)._tag, "Stay", "9 of 20 is under 50 %")
    assert.strictEqual(decideClosed(19, 19)._tag, "Stay", "19 attempts are fewer than 20, however many failed")
    assert.strictEqual(decideClosed(21, 11)._tag, "Open")
    assert.strictEqual(decideClosed(21, 10)._tag, "Stay")
    // A ratio that is not exact in binary: 3 of 10 is 30 %.
    const thirty = Circuit.settings({ failureRatio: 0.3, minAttempts: 10 })
    assert.strictEqual(decideClosed(10, 3, thirty)._tag, "Open")
    assert.strictEqual(decideClosed(10, 2, thirty)._tag, "Stay")
    const all = Circuit.settings({ failureRatio: 1, minAttempts: 1 })
    assert.strictEqual(decideClosed(1, 1, all)._tag, "Open")
    assert.strictEqual(decideClosed(2, 1, all)._tag, "Stay")
  })

  it("opens with the base cool-down and no re-opens, carrying the counts that tripped it", () => {
    assert.deepStrictEqual(
      decideClosed(40, 30),
      Circuit.Transition.Open({ cooldownMs: 30_000, reopens: 0, counts: { attempts: 40, failures: 30 } })
    )
  })

  it("successes dilute failures: a dependency failing one call in three never opens it", () => {
    const buckets = Array.from({ length: 60 }, (_, i) => bucket(sec(i), 30, 10))
    assert.strictEqual(Circuit.decide(s, closed, observe(sec(60), buckets))._tag, "Stay")
  })

  it("sums the window's seconds; a bucket older than the window no longer counts", () => {
    // 15 failures of 20 spread over the window's first and last seconds.
    const buckets = [bucket(sec(0), 10, 10), bucket(sec(59), 10, 5)]
    assert.strictEqual(Circuit.decide(s, closed, observe(sec(59), buckets))._tag, "Open")
    assert.strictEqual(Circuit.decide(s, closed, observe(sec(60), buckets))._tag, "Open", "second 0 is 60 s back: in")
    assert.strictEqual(
      Circuit.decide(s, closed, observe(sec(60) + 1, buckets))._tag,
      "Stay",
      "a millisecond later second 0 has left the window: 5 of 10"
    )
    assert.deepStrictEqual(Circuit.windowCounts(s, T0 - 3_600_000, observe(sec(61), buckets)), { attempts: 10, failures: 5 })
  })

  it("a shorter window forgets sooner", () => {
    const short = Circuit.settings({ window: "5 seconds", minAttempts: 4 })
    const buckets = [bucket(sec(0), 4, 4)]
    assert.strictEqual(Circuit.decide(short, closed, observe(sec(5), buckets))._tag, "Open")
    assert.strictEqual(Circuit.decide(short, closed, observe(sec(6), buckets))._tag, "Stay")
  })

  it("counts nothing from before the close (or resume) that reset the window, even in the same second", () => {
    const reset = Circuit.State.Closed({ countedFrom: sec(10) + 400 })
    const stale = [bucket(sec(5), 30, 30), bucket(sec(10), 30, 30)]
    assert.strictEqual(Circuit.decide(s, reset, observe(sec(20), stale))._tag, "Stay")
    const fresh = [...stale, bucket(sec(11), 20, 10)]
    assert.strictEqual(Circuit.decide(s, reset, observe(sec(20), fresh))._tag, "Open")
  })

  it("ignores the control rows: a closed circuit neither opens nor closes because of them", () => {
    assert.strictEqual(Circuit.decide(s, closed, observe(sec(11), [], false))._tag, "Stay")
    assert.strictEqual(Circuit.decide(s, closed, observe(sec(11), [], true))._tag, "Stay")
  })
})

describe("open and half-open", () => {
  const opened = Circuit.State.Open({ openedAt: sec(0), cooldownMs: 30_000, reopens: 0 })

  it("stays open for the cool-down, then goes half-open with no probe out yet", () => {
    assert.strictEqual(Circuit.decide(s, opened, observe(sec(30) - 1, []))._tag, "Stay")
    assert.deepStrictEqual(Circuit.decide(s, opened, observe(sec(30), [])), Circuit.Transition.HalfOpen())
    assert.deepStrictEqual(
      Circuit.next(opened, Circuit.Transition.HalfOpen(), sec(30) + 400),
      Circuit.State.HalfOpen({ since: sec(30) + 400, cooldownMs: 30_000, reopens: 0, released: 0 })
    )
  })

  it("counts nothing while open: failures piling up do not re-open or extend it", () => {
    const buckets = Array.from({ length: 30 }, (_, i) => bucket(sec(i), 50, 50))
    assert.strictEqual(Circuit.decide(s, opened, observe(sec(29), buckets))._tag, "Stay")
    assert.strictEqual(Circuit.decide(s, opened, observe(sec(30), buckets))._tag, "HalfOpen")
  })

  it("half-open releases its probes from the next whole second, again while none could be released", () => {
    const none = Circuit.State.HalfOpen({ since: sec(30) + 400, cooldownMs: 30_000, reopens: 0, released: 0 })
    assert.strictEqual(Circuit.probeStart(sec(30) + 400), sec(31))
    assert.strictEqual(Circuit.decide(s, none, observe(sec(31) - 1, []))._tag, "Stay")
    assert.deepStrictEqual(Circuit.decide(s, none, observe(sec(31), [])), Circuit.Transition.ReleaseProbes({ probes: 3 }))
    assert.deepStrictEqual(Circuit.decide(s, none, observe(sec(45), [])), Circuit.Transition.ReleaseProbes({ probes: 3 }))
    assert.deepStrictEqual(
      Circuit.next(none, Circuit.Transition.ReleaseProbes({ probes: 3 }), sec(31), 2),
      Circuit.State.HalfOpen({ since: sec(30) + 400, cooldownMs: 30_000, reopens: 0, released: 2 })
    )
    const out = Circuit.State.HalfOpen({ since: sec(30), cooldownMs: 30_000, reopens: 0, released: 3 })
    assert.strictEqual(Circuit.decide(s, out, observe(sec(32), [bucket(sec(31), 2, 0)]))._tag, "Stay", "one probe still out")
  })

  it("closes once every released probe succeeded, with a fresh window", () => {
    const out = Circuit.State.HalfOpen({ since: sec(30) + 700, cooldownMs: 30_000, reopens: 2, released: 3 })
    const done = [bucket(sec(31), 1, 0), bucket(sec(32), 2, 0)]
    const close = Circuit.decide(s, out, observe(sec(33), done))
    assert.deepStrictEqual(close, Circuit.Transition.Close({ reason: "probes_succeeded" }))
    assert.deepStrictEqual(Circuit.next(out, close, sec(33)), Circuit.State.Closed({ countedFrom: sec(33) }))
    // Fewer jobs than probes were waiting: those that were released decide.
    const one = Circuit.State.HalfOpen({ since: sec(30), cooldownMs: 30_000, reopens: 0, released: 1 })
    assert.strictEqual(Circuit.decide(s, one, observe(sec(32), [bucket(sec(31), 1, 0)]))._tag, "Close")
  })

  it("failures that ended before the probes' second (jobs running when it opened) are not probe failures", () => {
    const out = Circuit.State.HalfOpen({ since: sec(30) + 700, cooldownMs: 30_000, reopens: 0, released: 3 })
    const stragglers = bucket(sec(30), 26, 26)
    assert.strictEqual(Circuit.decide(s, out, observe(sec(31) + 200, [stragglers]))._tag, "Stay")
    const probes = bucket(sec(31), 3, 0)
    assert.strictEqual(Circuit.decide(s, out, observe(sec(32), [stragglers, probes]))._tag, "Close")
  })

  it("a probe failure re-opens it with the cool-down doubled, up to the cap", () => {
    const settings = Circuit.settings({ cooldown: "30 seconds", maxCooldown: "10 minutes" })
    let state: Circuit.State = opened
    const cooldowns: Array<number> = []
    for (let round = 0; round < 8; round++) {
      if (state._tag !== "Open") throw new Error(`round ${round}: ${state._tag}`)
      cooldowns.push(state.cooldownMs)
      let now = state.openedAt + state.cooldownMs
      state = Circuit.next(state, Circuit.decide(settings, state, observe(now, [])), now)
      now = Circuit.probeStart(now)
      const release = Circuit.decide(settings, state, observe(now, []))
      assert.strictEqual(release._tag, "ReleaseProbes")
      state = Circuit.next(state, release, now, 3)
      now += 1500
      const failed = Circuit.decide(settings, state, observe(now, [bucket(now - (now % 1000), 1, 1)]))
      if (failed._tag !== "Open") throw new Error(`round ${round}: ${failed._tag}`)
      assert.strictEqual(failed.reopens, round + 1)
      state = Circuit.next(state, failed, now)
    }
    assert.deepStrictEqual(cooldowns, [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000])
    assert.strictEqual(Circuit.longerCooldown(settings, 400_000), 600_000)
  })

  it("a failure of another class during half-open (a validation error) is no probe failure", () => {
    const out = Circuit.State.HalfOpen({ since: sec(30), cooldownMs: 30_000, reopens: 0, released: 3 })
    // Three attempts, none of a trip class: the worker counted them as attempts only.
    assert.strictEqual(Circuit.decide(s, out, observe(sec(32), [bucket(sec(31), 3, 0)]))._tag, "Close")
  })

  it("an operator who lifted the type's control closes it from open or half-open; the stale window stays behind", () => {
    const storm = Array.from({ length: 10 }, (_, i) => bucket(sec(i), 100, 100))
    const close = Circuit.decide(s, opened, observe(sec(12), storm, false))
    assert.deepStrictEqual(close, Circuit.Transition.Close({ reason: "operator_resumed" }))
    const half = Circuit.State.HalfOpen({ since: sec(30), cooldownMs: 60_000, reopens: 1, released: 3 })
    assert.deepStrictEqual(
      Circuit.decide(s, half, observe(sec(32), [bucket(sec(31), 1, 1)], false)),
      Circuit.Transition.Close({ reason: "operator_resumed" })
    )
    const reset = Circuit.next(opened, close, sec(12) + 250)
    assert.strictEqual(Circuit.decide(s, reset, observe(sec(13), storm))._tag, "Stay", "the storm before the resume does not count")
    const again = [...storm, bucket(sec(13), 10, 10), bucket(sec(14), 10, 10)]
    assert.strictEqual(Circuit.decide(s, reset, observe(sec(15), again))._tag, "Open", "new failures do")
  })
})

describe("transitions that do not apply", () => {
  it("half-open only follows open, probes are only added when half-open; a later bucket never counts", () => {
    const half = Circuit.State.HalfOpen({ since: sec(30), cooldownMs: 30_000, reopens: 0, released: 1 })
    assert.deepStrictEqual(Circuit.next(closed, Circuit.Transition.HalfOpen(), sec(31)), closed)
    assert.deepStrictEqual(Circuit.next(half, Circuit.Transition.HalfOpen(), sec(31)), half)
    assert.deepStrictEqual(Circuit.next(closed, Circuit.Transition.ReleaseProbes({ probes: 3 }), sec(31), 3), closed)
    assert.deepStrictEqual(Circuit.next(half, Circuit.Transition.Stay(), sec(31)), half)
    // Counts are filed under the second they ended in: none can be later than now.
    assert.deepStrictEqual(Circuit.windowCounts(s, 0, observe(sec(10), [bucket(sec(11), 40, 40)])), {
      attempts: 0,
      failures: 0
    })
  })
})

describe("a whole outage", () => {
  it("opens, probes, re-opens with a longer cool-down, probes again and closes", () => {
    const settings = Circuit.settings({ window: "10 seconds", minAttempts: 5, cooldown: "2 seconds", probes: 2 })
    const buckets: Array<Circuit.Bucket> = []
    let state: Circuit.State = Circuit.State.Closed({ countedFrom: sec(0) })
    const log: Array<string> = []
    const tick = (now: number, controlled = true) => {
      const t = Circuit.decide(settings, state, observe(now, buckets, controlled))
      state = Circuit.next(state, t, now, t._tag === "ReleaseProbes" ? t.probes : 0)
      if (t._tag !== "Stay") log.push(`${(now - T0) / 1000}s ${t._tag}`)
    }
    // The dependency goes down at second 1.
    buckets.push(bucket(sec(1), 3, 1), bucket(sec(2), 4, 4))
    tick(sec(2) + 100) // 5 of 7 failed: open for 2 s
    tick(sec(3) + 100)
    tick(sec(4) + 100) // half-open
    buckets.push(bucket(sec(4), 2, 2)) // jobs that were running when it opened fail late: not probes
    tick(sec(5) + 100) // the probes' second: 2 released
    buckets.push(bucket(sec(5), 1, 1)) // a probe fails
    tick(sec(6) + 100) // open again, for 4 s
    tick(sec(9) + 100)
    tick(sec(10) + 100) // half-open again
    tick(sec(11) + 100) // 2 probes released
    buckets.push(bucket(sec(11), 2, 0)) // both succeed
    tick(sec(11) + 900)
    tick(sec(12) + 500) // the outage's failures are behind the fresh window
    assert.deepStrictEqual(log, [
      "2.1s Open",
      "4.1s HalfOpen",
      "5.1s ReleaseProbes",
      "6.1s Open",
      "10.1s HalfOpen",
      "11.1s ReleaseProbes",
      "11.9s Close"
    ])
    assert.deepStrictEqual(state, Circuit.State.Closed({ countedFrom: sec(11) + 900 }))
  })
})
