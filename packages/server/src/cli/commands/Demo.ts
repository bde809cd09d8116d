/** `redrive demo`: the demo (../../demo/Demo.ts), as `pnpm demo` runs it. */
import { Command } from "@effect/cli"
import * as Demo from "../../demo/Demo.js"
import { reported } from "../Run.js"

export const command = Command.make("demo", {}, () => Demo.program.pipe(reported(false))).pipe(
  Command.withDescription(
    "Redrive's failure path in a dozen seconds: enqueue, retries, dead letters, a bulk replay, a circuit breaker (tenant demo; DATABASE_URL or the embedded default)."
  )
)
