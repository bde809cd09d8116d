import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Classify from "../src/Classify.js"
import { type CorpusCase, corpus, now } from "./fixtures/sdkErrors.js"

const none = { classify: () => Option.none<string>() }

interface Result {
  readonly case: CorpusCase
  readonly errorClass: string
  readonly retryAfterMillis: number | undefined
  readonly correct: boolean
}

let computed: Promise<ReadonlyArray<Result>> | undefined
/** Every case's error (some from real failing calls on loopback), classified once for all the tests. */
const results = Effect.promise(() =>
  computed ??= Promise.all(corpus.map(async (c): Promise<Result> => {
    const classification = Classify.classifyError(await c.error(), none, false, now)
    const { errorClass, retryAfterMillis } = classification
    const correct = errorClass === c.expected && (c.retryAfterMillis === undefined || retryAfterMillis === c.retryAfterMillis)
    return { case: c, errorClass, retryAfterMillis, correct }
  }))
)

const libraries = [
  "undici/fetch",
  "node:http",
  "axios",
  "got",
  "AWS SDK v3",
  "Stripe",
  "OpenAI",
  "Anthropic",
  "Twilio",
  "SendGrid",
  "Octokit",
  "Slack",
  "Google APIs",
  "Zod",
  "pg",
  "nodemailer",
  "programming bugs"
]

describe("classification of errors as real SDKs throw them", () => {
  it.live("files at least 95 % of the corpus under its expected class (the accuracy is printed)", () =>
    Effect.gen(function*() {
      const all = yield* results
      const correct = all.filter((r) => r.correct).length
      const accuracy = correct / all.length
      const lines = [...new Set(all.map((r) => r.case.library))].map((library) => {
        const of = all.filter((r) => r.case.library === library)
        return `  ${library}: ${of.filter((r) => r.correct).length}/${of.length}`
      })
      console.log(
        `classification corpus: ${correct}/${all.length} correct, accuracy ${(accuracy * 100).toFixed(1)} %\n${lines.join("\n")}`
      )
      assert.isAtLeast(accuracy, 0.95)
    }))

  it.live("files every case under its expected class, with the wait it names", () =>
    Effect.gen(function*() {
      const wrong = (yield* results).filter((r) => !r.correct).map((r) =>
        `${r.case.library} / ${r.case.name}: ${r.errorClass}${r.retryAfterMillis === undefined ? "" : ` (${r.retryAfterMillis} ms)`}, ` +
        `expected ${r.case.expected}${r.case.retryAfterMillis === undefined ? "" : ` (${r.case.retryAfterMillis} ms)`}`
      )
      assert.deepStrictEqual(wrong, [])
    }))

  it("holds at least 50 errors, from every library the classification must know", () => {
    assert.isAtLeast(corpus.length, 50)
    for (const library of libraries) {
      assert.isAtLeast(corpus.filter((c) => c.library === library).length, 2, library)
    }
    const classes = new Set(corpus.map((c) => c.expected))
    assert.deepStrictEqual([...classes].sort(), ["external_api", "quota_exceeded", "rate_limit", "timeout", "unknown", "validation"])
  })
})
