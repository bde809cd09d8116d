/**
 * The claim loop's wake-ups (internal/WakeUps.ts): a raised flag is kept until a wait for it
 * takes it, a wait returns on its flags or its timeout, and an interrupted wait leaves nothing
 * behind.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option } from "effect"
import * as WakeUps from "../src/internal/WakeUps.js"

const elapsed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(self), ([duration]) => Duration.toMillis(duration))

describe("WakeUps", () => {
  it.live("a flag raised before the wait is taken at once, and only once", () =>
    Effect.gen(function*() {
      const w = WakeUps.make()
      w.raise(WakeUps.work)
      assert.isBelow(yield* elapsed(w.wait(WakeUps.work, 1000)), 50)
      // Taken: the next wait runs to its timeout.
      assert.isAtLeast(yield* elapsed(w.wait(WakeUps.work, 60)), 55)
    }))

  it.live("a wait returns when one of its flags is raised, not for another flag", () =>
    Effect.gen(function*() {
      const w = WakeUps.make()
      const waiting = yield* Effect.fork(elapsed(w.wait(WakeUps.work, 2000)))
      yield* Effect.sleep("20 millis")
      w.raise(WakeUps.room)
      yield* Effect.sleep("20 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      w.raise(WakeUps.work)
      assert.isBelow(yield* Fiber.join(waiting), 1000)
      // `room` stayed raised for a wait that takes it.
      assert.isBelow(yield* elapsed(w.wait(WakeUps.room | WakeUps.work, 1000)), 50)
    }))

  it.live("a wait for either flag returns on each of them", () =>
    Effect.gen(function*() {
      const w = WakeUps.make()
      for (const flag of [WakeUps.work, WakeUps.room]) {
        const waiting = yield* Effect.fork(elapsed(w.wait(WakeUps.work | WakeUps.room, 2000)))
        yield* Effect.sleep("10 millis")
        w.raise(flag)
        assert.isBelow(yield* Fiber.join(waiting), 1000)
      }
    }))

  it.live("an interrupted wait leaves no waiter: a later raise is kept for the next wait", () =>
    Effect.gen(function*() {
      const w = WakeUps.make()
      const waiting = yield* Effect.fork(w.wait(WakeUps.work, 2000))
      yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(waiting)
      w.raise(WakeUps.work)
      assert.isBelow(yield* elapsed(w.wait(WakeUps.work, 1000)), 50)
    }))
  it.live("with no timeout (Infinity) a wait returns only when raised", () =>
    Effect.gen(function*() {
      const w = WakeUps.make()
      const waiting = yield* Effect.fork(w.wait(WakeUps.work, Number.POSITIVE_INFINITY))
      yield* Effect.sleep("100 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      w.raise(WakeUps.work)
      yield* Fiber.join(waiting)
    }))
})
