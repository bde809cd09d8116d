import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as ErrorHistory from "../src/ErrorHistory.js"
import * as Factory from "../src/testing/Factory.js"

const entry = Factory.failedAttempt

const appendAll = (attempts: ReadonlyArray<number>, cap?: number) =>
  attempts.reduce<ErrorHistory.ErrorHistory>((history, n) => ErrorHistory.append(history, entry(n), cap), [])

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe("ErrorHistory.append", () => {
  it("refuses a cap below 3, naming it", () => {
    assert.throws(() => ErrorHistory.append([], { kind: "dropped", count: 1, at: new Date() }, 2), RangeError, "history cap must be at least 3, got 2")
  })

  it("keeps every entry, in order, up to the cap", () => {
    assert.deepStrictEqual(appendAll(range(1, 5), 5), range(1, 5).map(entry))
    assert.deepStrictEqual(appendAll(range(1, 50)), range(1, 50).map(entry))
  })

  it("past the cap keeps the first entry, a dropped marker, then the newest", () => {
    assert.deepStrictEqual(appendAll(range(1, 6), 5), [
      entry(1),
      { kind: "dropped", count: 2, at: entry(6).at },
      entry(4),
      entry(5),
      entry(6)
    ])
  })

  it("the marker's count grows with each further append and takes the newest entry's time", () => {
    assert.deepStrictEqual(appendAll(range(1, 9), 5), [
      entry(1),
      { kind: "dropped", count: 5, at: entry(9).at },
      entry(7),
      entry(8),
      entry(9)
    ])
  })

  it("the smallest cap, 3, keeps the first entry, the marker and the newest", () => {
    assert.deepStrictEqual(appendAll(range(1, 4), 3), [entry(1), { kind: "dropped", count: 2, at: entry(4).at }, entry(4)])
  })

  it("the default cap of 50 keeps the first entry, the marker and the 48 newest", () => {
    const history = appendAll(range(1, 60))
    assert.strictEqual(history.length, 50)
    assert.deepStrictEqual(history[0], entry(1))
    assert.deepStrictEqual(history[1], { kind: "dropped", count: 11, at: entry(60).at })
    assert.deepStrictEqual(history.slice(2), range(13, 60).map(entry))
  })
})

describe("ErrorHistory schema", () => {
  const encode = Schema.encodeSync(ErrorHistory.ErrorHistory)
  const decode = Schema.decodeUnknownSync(ErrorHistory.ErrorHistory)

  it("a history with every kind of entry and every optional field round-trips through its stored form", () => {
    const at = new Date("2026-11-23T10:00:00.000Z")
    const kinds = ["failed", "timeout", "rescued", "snoozed", "waited", "replayed", "discarded"] as const
    const history: ErrorHistory.ErrorHistory = [
      ...kinds.map((kind, i): ErrorHistory.AttemptEntry => ({ ...entry(i + 1), kind })),
      { kind: "dropped", count: 4, at },
      {
        attempt: 0,
        at,
        kind: "replayed",
        errorClass: "validation",
        tag: "Redrive/ValidationError",
        message: "replayed with an edited payload",
        stack: "Error: x\n    at run",
        durationMs: 12,
        workerId: "worker-1",
        nextRunAt: new Date("2026-11-23T10:05:00.000Z"),
        by: "operator@example.com"
      }
    ]
    const stored = JSON.parse(JSON.stringify(encode(history))) as unknown
    assert.deepStrictEqual(decode(stored), history)
  })

  it("refuses an entry of an unknown kind, and a marker that counts nothing", () => {
    const decodeEither = Schema.decodeUnknownEither(ErrorHistory.ErrorHistory)
    const at = "2026-11-23T10:00:00.000Z"
    assert.isTrue(Either.isLeft(decodeEither([{ ...encode([entry(1)])[0], kind: "exploded" }])))
    assert.isTrue(Either.isLeft(decodeEither([{ kind: "dropped", count: 0, at }])))
    assert.isTrue(Either.isRight(decodeEither([{ kind: "dropped", count: 1, at }])))
  })
})
