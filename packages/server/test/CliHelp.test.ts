/**
 * `--help` on every command, in this process (each child process costs seconds under tsx): the
 * command tree answers exit 0 and prints the command's usage and description. Cli.test.ts runs
 * the bin itself.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect } from "effect"
import * as Cli from "../src/cli/Cli.js"
import * as ExitCode from "../src/cli/ExitCode.js"

/** Runs the command line with a Console that records what it prints. */
const run = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const record = (...parts: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(parts.map(String).join(" ")))
    const console = yield* Console.consoleWith(Effect.succeed)
    const captured: Console.Console = { ...console, log: record, error: record }
    const code = yield* Cli.run(["node", "redrive", ...args]).pipe(Effect.withConsole(captured), Effect.provide(NodeContext.layer))
    // ANSI styling off, so assertions read plain text.
    return { code, output: out.join("\n").replace(/\u001b\[[0-9;]*m/g, "") }
  })

/** Every command of the tree (an unknown one would fail its --help with exit 2). */
const all = [
  "migrate", "migrate up", "migrate status", "serve", "worker", "dlq", "dlq list", "dlq show", "dlq groups", "dlq replay",
  "replay", "replay status", "replay cancel", "jobs", "jobs show", "jobs cancel", "jobs retry", "pause", "resume", "drain",
  "controls", "purge", "purge dlq", "keys", "keys create", "keys list", "keys revoke", "keys rotate", "demo"
].map((p) => p.split(" "))

describe("redrive --help", () => {
  it.effect("every command answers --help with exit 0, its usage and its description", () =>
    Effect.gen(function*() {
      const root = yield* run(["--help"])
      assert.strictEqual(root.code, ExitCode.ok)
      assert.match(root.output, /Exit codes: 0 ok, 1 failure, 2 usage or bad input, 3 not found, 4 conflict/)
      for (const path of all) {
        const { code, output } = yield* run([...path, "--help"])
        assert.strictEqual(code, ExitCode.ok, path.join(" "))
        // @effect/cli writes a subcommand's usage from its own name: `$ list [--json] …`.
        assert.include(output, `$ ${path[path.length - 1]}`, path.join(" "))
        assert.match(output, /DESCRIPTION/, path.join(" "))
      }
      for (const command of ["serve", "worker"]) {
        assert.include((yield* run([command, "--help"])).output, "--cluster", `${command} offers cluster mode`)
      }
    }))

  it.effect("an unknown command or flag is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const unknown = yield* run(["dlq", "lst"])
      assert.strictEqual(unknown.code, ExitCode.usage)
      const flag = yield* run(["dlq", "list", "--colour", "red"])
      assert.strictEqual(flag.code, ExitCode.usage)
      const json = yield* run(["jobs", "show", "--json"])
      assert.strictEqual(json.code, ExitCode.usage)
      assert.include(json.output, "\"exitCode\": 2")
    }))
})
