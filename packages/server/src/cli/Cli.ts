/**
 * The `redrive` command line: its commands, and `run`, which parses argv, runs the command and
 * answers the process's exit code (ExitCode.ts). Parse errors are printed by @effect/cli.
 */
import { CliConfig, Command } from "@effect/cli"
import { Cause, Effect, Exit, Option } from "effect"
import * as Controls from "./commands/Controls.js"
import * as Demo from "./commands/Demo.js"
import * as Dlq from "./commands/Dlq.js"
import * as Jobs from "./commands/Jobs.js"
import * as Keys from "./commands/Keys.js"
import * as Migrate from "./commands/Migrate.js"
import * as Purge from "./commands/Purge.js"
import * as Replay from "./commands/Replay.js"
import * as Serve from "./commands/Serve.js"
import * as Worker from "./commands/Worker.js"
import * as ExitCode from "./ExitCode.js"
import * as Output from "./Output.js"
import { CommandFailed } from "./Run.js"

export const root = Command.make("redrive").pipe(
  Command.withDescription(
    "Operate Redrive: migrations, the server, dead letters, replays, jobs, controls, keys. Exit codes: " +
      "0 ok, 1 failure, 2 usage or bad input, 3 not found, 4 conflict, 5 refused (key)."
  ),
  Command.withSubcommands([
    Migrate.command,
    Serve.command,
    Worker.command,
    Dlq.command,
    Replay.command,
    Jobs.command,
    ...Controls.commands,
    Purge.command,
    Keys.command,
    Demo.command
  ])
)

const cli = Command.run(root, { name: "redrive", version: "0.1.0" })

/** `--json` anywhere on the line: a parse error is then reported as JSON too. */
const wantsJson = (argv: ReadonlyArray<string>) => argv.includes("--json")

/** Runs the command line (`argv` as process.argv: node, script, …) and answers the exit code. */
export const run = (argv: ReadonlyArray<string>) =>
  cli(argv).pipe(
    Effect.exit,
    Effect.flatMap((exit): Effect.Effect<ExitCode.ExitCode> => {
      if (Exit.isSuccess(exit)) return Effect.succeed(ExitCode.ok)
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure) && failure.value instanceof CommandFailed) return Effect.succeed(failure.value.code)
      if (Option.isSome(failure)) {
        // @effect/cli printed its parse error on stderr already.
        const code = ExitCode.of(failure.value)
        return Effect.as(wantsJson(argv) ? Output.failure(true, failure.value, code) : Effect.void, code)
      }
      if (Cause.isInterruptedOnly(exit.cause)) return Effect.succeed(ExitCode.failure)
      return Effect.as(Output.failure(wantsJson(argv), Cause.squash(exit.cause), ExitCode.failure), ExitCode.failure)
    }),
    Effect.provide(CliConfig.layer({ showBuiltIns: false }))
  )

