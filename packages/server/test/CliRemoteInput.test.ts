/**
 * The remote mode's refusals that need no server, in this process: a URL without a key, bad
 * input (decoded with the wire schemas before anything is sent) and a server that does not answer. None of them prints the key. CliRemote.test.ts runs
 * the bin against `redrive serve`.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Console, Effect } from "effect"
import * as Cli from "../src/cli/Cli.js"
import * as ExitCode from "../src/cli/ExitCode.js"
import { freePort } from "./cliFixtures.js"

const key = "rdk_" + "k3yThatMustNeverBePrinted_0123456789abcdefg".slice(0, 43)

/** Runs the command line with a Console that records what it prints (and, optionally, settings). */
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const record = (...parts: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(parts.map(String).join(" ")))
    const console = yield* Console.consoleWith(Effect.succeed)
    const captured: Console.Console = { ...console, log: record, error: record }
    const code = yield* Cli.run(["node", "redrive", ...args]).pipe(
      Effect.withConsole(captured),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.provide(NodeContext.layer)
    )
    const output = out.join("\n")
    assert.notInclude(output, key)
    return { code, output }
  })

interface ErrorDoc {
  readonly error: { readonly tag: string; readonly field?: string; readonly message: string; readonly exitCode: number }
}
const errorOf = (output: string): ErrorDoc["error"] => {
  // The document's shape is what the assertions check next.
  const doc = JSON.parse(output) as ErrorDoc
  return doc.error
}

describe("redrive --url: refusals before or without a server", () => {
  it.effect("a URL without a key, or a URL that is not http(s), is a usage error naming the option", () =>
    Effect.gen(function*() {
      const noKey = yield* run(["dlq", "list", "--url", "http://127.0.0.1:9", "--json"])
      assert.deepStrictEqual([noKey.code, errorOf(noKey.output).field], [ExitCode.usage, "key"])
      const envNoKey = yield* run(["dlq", "list", "--json"], { REDRIVE_URL: "http://127.0.0.1:9" })
      assert.deepStrictEqual([envNoKey.code, errorOf(envNoKey.output).field], [ExitCode.usage, "key"])
      const badUrl = yield* run(["dlq", "list", "--url", "ftp://127.0.0.1", "--key", key, "--json"])
      assert.deepStrictEqual([badUrl.code, errorOf(badUrl.output).field], [ExitCode.usage, "url"])
    }))

  it.effect("bad input is refused naming its field before anything is sent (no server listens here)", () =>
    Effect.gen(function*() {
      const url = `http://127.0.0.1:${yield* freePort}`
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["dlq", "show", "abc"], "id"],
        [["jobs", "cancel", "0"], "id"],
        [["dlq", "list", "--limit", "0"], "limit"],
        [["dlq", "list", "--since", "yesterday-ish"], "filter.dlqFrom"],
        [["replay", "--filter", "ids=1,x", "--dry-run"], "filter.ids.1"],
        [["replay", "status", "not-a-uuid"], "id"],
        [["dlq", "replay", "7", "--request-id", "has space"], "requestId"],
        [["keys", "create", "--name", ""], "name"],
        [["controls", "--events", "--limit", "0"], "limit"],
        [["controls", "--events", "--scope", "a/"], "queue"],
        [["purge", "dlq", "--filter", "ids=1,x", "--dry-run"], "filter.ids.1"]
      ]
      for (const [args, field] of cases) {
        const { code, output } = yield* run([...args, "--url", url, "--key", key, "--json"])
        assert.strictEqual(code, ExitCode.usage, `${args.join(" ")}: ${output}`)
        assert.strictEqual(errorOf(output).field, field, args.join(" "))
      }
    }))

  it.effect("no server at the URL (flags or REDRIVE_URL/REDRIVE_KEY): ServerUnreachable naming the URL, exit 1", () =>
    Effect.gen(function*() {
      const url = `http://127.0.0.1:${yield* freePort}`
      const flags = yield* run(["dlq", "list", "--url", url, "--key", key, "--json"])
      assert.strictEqual(flags.code, ExitCode.failure)
      assert.strictEqual(errorOf(flags.output).tag, "Redrive/ServerUnreachable")
      assert.include(errorOf(flags.output).message, url)
      const env = yield* run(["controls"], { REDRIVE_URL: url, REDRIVE_KEY: key })
      assert.strictEqual(env.code, ExitCode.failure)
      assert.match(env.output, new RegExp(`ServerUnreachable: no Redrive answer from ${url}`))
    }))
})
