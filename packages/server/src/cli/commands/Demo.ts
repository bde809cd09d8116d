/** `redrive demo [--serve] [--port]`: the demo (../../demo/Demo.ts), as `pnpm demo` runs it. */
import { Command, Options } from "@effect/cli"
import { Input } from "@redrive/database"
import { Effect, Option, Schema } from "effect"
import * as Demo from "../../demo/Demo.js"
import { reported } from "../Run.js"

const options = {
  serve: Options.boolean("serve").pipe(
    Options.withDescription("Afterwards, keep serving the demo's data (HTTP API, RPC, docs) and print the URL and an admin key.")
  ),
  port: Options.integer("port").pipe(Options.withDescription("The port --serve listens on (default 8080)."), Options.optional)
}

const decodePort = Input.decode(Schema.Int.pipe(Schema.between(1, 65_535)), "port")

export const command = Command.make("demo", options, (o) =>
  Effect.gen(function*() {
    const port = Option.isSome(o.port) ? yield* decodePort(o.port.value) : 8080
    return yield* Demo.run(o.serve ? { serve: { port } } : {})
  }).pipe(reported(false))).pipe(
    Command.withDescription(
      "Redrive's failure path in half a minute: enqueue, retries, dead letters, a bulk replay, a circuit breaker, a pause and a drain with alerts (tenant demo; DATABASE_URL or the embedded default); --serve keeps serving it."
    )
  )
