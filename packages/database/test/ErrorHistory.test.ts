import { assert, describe, it } from "@effect/vitest"
import * as ErrorHistory from "../src/ErrorHistory.js"

describe("ErrorHistory", () => {
  it("refuses a cap below 3", () => {
    assert.throws(() => ErrorHistory.append([], { kind: "dropped", count: 1, at: new Date() }, 2))
  })
})
