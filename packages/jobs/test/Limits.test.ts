import { assert, describe, it, layer } from "@effect/vitest"
import { DlqFilter, Ids, JobDlqRepo } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { ConfigProvider, Effect, Either, Layer, Schema } from "effect"
import * as JobRegistry from "../src/JobRegistry.js"
import * as Limits from "../src/Limits.js"
import { Replay } from "../src/Replay.js"
import * as ReplayModule from "../src/Replay.js"
import { count } from "./workerFixtures.js"

const utf8 = new TextDecoder("utf-8", { fatal: true })
const isValidUtf8 = (text: string) => utf8.decode(Buffer.from(text, "utf8")) === text

describe("Limits.truncate", () => {
  it("leaves a text that fits unchanged, counting bytes, not characters", () => {
    assert.strictEqual(Limits.truncate("é".repeat(32), 64), "é".repeat(32))
    assert.notStrictEqual(Limits.truncate("é".repeat(33), 64), "é".repeat(33))
  })

  it("cuts on a character boundary, ends with the marker, and stays within the limit", () => {
    for (const unit of ["a", "é", "€", "😀"]) {
      for (let limit = 64; limit < 72; limit++) {
        const cut = Limits.truncate(unit.repeat(100), limit)
        assert.isTrue(cut.endsWith(Limits.truncatedMarker), `${unit} at ${limit}`)
        assert.isAtMost(Buffer.byteLength(cut), limit)
        assert.isTrue(isValidUtf8(cut), `${unit} at ${limit}`)
        const kept = cut.slice(0, -Limits.truncatedMarker.length)
        assert.strictEqual(kept, unit.repeat(kept.length / unit.length))
        // As much as fits: one more character would not.
        assert.isAbove(Buffer.byteLength(kept + unit) + Buffer.byteLength(Limits.truncatedMarker), limit)
      }
    }
  })
})

describe("Limits.config", () => {
  it.effect("reads the environment's limits, with documented defaults", () =>
    Effect.gen(function*() {
      const env = (map: ReadonlyArray<readonly [string, string]>) =>
        Effect.withConfigProvider(Limits.config, ConfigProvider.fromMap(new Map(map)))
      assert.deepStrictEqual(yield* env([]), Limits.defaults)
      assert.deepStrictEqual(yield* env([["REDRIVE_MAX_PAYLOAD_BYTES", "2048"], ["REDRIVE_MAX_STACK_BYTES", "100"]]), {
        ...Limits.defaults,
        payloadBytes: 2048,
        stackBytes: 100
      })
      assert.isTrue(Either.isLeft(yield* Effect.either(env([["REDRIVE_MAX_BATCH_BYTES", "10"]]))))
    }))
})

describe("DlqFilter", () => {
  it("refuses more than 1000 ids, naming the field", () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1))
    const decode = Schema.decodeUnknownEither(DlqFilter.DlqFilter)
    assert.isTrue(Either.isRight(decode({ ids: ids(Limits.filterItems) })))
    const refused = decode({ ids: ids(Limits.filterItems + 1) })
    if (Either.isRight(refused)) return assert.fail("1001 ids were accepted")
    assert.include(refused.left.message, "ids: at most 1000 ids per filter")
  })
})

const TestLayer = ReplayModule.layer().pipe(
  Layer.provideMerge(Layer.mergeAll(JobRegistry.layer([]), JobDlqRepo.layerInsecureDefault)),
  Layer.provideMerge(TestDatabase.layer)
)

layer(TestLayer, { excludeTestServices: true })("filter lists", (it) => {
  it.effect("a bulk replay whose filter lists too many ids is refused naming filter.ids, and nothing is written", () =>
    Effect.gen(function*() {
      const replay = yield* Replay
      const requestedBy = Factory.unique("limits")
      const ids = Array.from({ length: Limits.filterItems + 1 }, (_, i) => Ids.DlqId.make(i + 1))
      const refused = yield* Effect.flip(
        replay.createBulk({ filter: { ids }, scopeTenant: Factory.tenant(), dryRun: true, requestedBy })
      )
      assert.deepInclude(refused, { _tag: "Redrive/InvalidBulkReplay", field: "filter.ids" })
      assert.include(refused.message, "ids")
      assert.strictEqual(yield* count(`redrive.replay_request where requested_by = '${requestedBy}'`), 0)
    }))
})
