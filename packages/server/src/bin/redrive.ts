#!/usr/bin/env node
/** `redrive …`: the operator's command line (src/cli/). `redrive --help` lists the commands. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cli from "../cli/Cli.js"

let code = 1
Cli.run(process.argv).pipe(
  Effect.tap((answered) => Effect.sync(() => (code = answered))),
  Effect.provide(NodeContext.layer),
  // Interrupted (SIGINT/SIGTERM) or not, the process ends with the command's exit code.
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: (_exit, onExit) => onExit(code) })
)
