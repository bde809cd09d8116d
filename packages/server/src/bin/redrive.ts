#!/usr/bin/env node
/** `redrive …`: the operator's command line (src/cli/). `redrive --help` lists the commands. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import * as Cli from "../cli/Cli.js"

let code = 1
Cli.run(process.argv).pipe(
  Effect.tap((answered) => Effect.sync(() => (code = answered))),
  Effect.provide(NodeContext.layer),
  // Stopped by SIGINT/SIGTERM (a worker, a server): it shut down as asked, exit 0.
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? 0 : code)
  })
)
