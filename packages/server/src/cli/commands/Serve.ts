/**
 * `redrive serve [--port] [--host] [--with-worker] [--cluster]`: Redrive's server (Server.ts: the HTTP API at
 * /v1, the RPC endpoint the CLI's `--url` mode calls, /healthz, /readyz, /metrics) on the runtime
 * database, until SIGINT or SIGTERM; then it shuts down gracefully (in-flight requests end, the
 * cluster runner stops) and exits 0. `--with-worker` also runs maintenance in this process;
 * `--cluster` runs JobEntity on a cluster runner (ClusterRunner) instead of a one-process one.
 */
import { Command, Options } from "@effect/cli"
import { Input } from "@redrive/database"
import { Console, Effect, Layer, Option, Schema } from "effect"
import * as Server from "../../Server.js"
import * as Connection from "../Connection.js"
import { reported } from "../Run.js"

const options = {
  port: Options.integer("port").pipe(
    Options.withDescription("The port to listen on (default REDRIVE_HTTP_PORT, else 8080)."),
    Options.optional
  ),
  host: Options.text("host").pipe(
    Options.withDescription("The interface to listen on (default REDRIVE_HTTP_HOST, else 127.0.0.1: this machine only)."),
    Options.optional
  ),
  withWorker: Options.boolean("with-worker").pipe(
    Options.withDescription("Also run maintenance (rescuer, pruner, alerts…; elected) and bulk replays here.")
  ),
  cluster: Options.boolean("cluster").pipe(
    Options.withDescription(
      "Join the database's cluster as a runner (REDRIVE_RUNNER_HOST, REDRIVE_RUNNER_PORT, default 34431): replay/cancel/retry commands are shared with the other runners."
    )
  )
}

const decodePort = Input.decode(Schema.Int.pipe(Schema.between(1, 65_535)), "port")
const decodeHost = Input.decode(Schema.String.pipe(Schema.minLength(1), Schema.pattern(/^[^\s/]+$/)), "host")

export const command = Command.make("serve", options, (o) =>
  Effect.gen(function*() {
    const port = Option.isSome(o.port) ? Option.some(yield* decodePort(o.port.value)) : Option.none()
    const host = Option.isSome(o.host) ? Option.some(yield* decodeHost(o.host.value)) : Option.none()
    const env = yield* Server.httpConfig
    const http = {
      ...env,
      ...(Option.isSome(port) ? { port: port.value } : {}),
      ...(Option.isSome(host) ? { host: host.value } : {})
    }
    const database = yield* Connection.runtimeDatabase
    // Building the layer binds the port: once built, the server answers.
    yield* Layer.build(Server.layer({
      http,
      redrive: { database },
      ...(o.withWorker ? { worker: { handlers: [] } } : {}),
      ...(o.cluster ? { cluster: { runner: {} } } : {})
    }))
    yield* Console.log(
      `redrive serve: listening on http://${http.host}:${http.port}` +
        ` (API /v1, RPC /rpc, docs /docs${o.withWorker ? "; with maintenance" : ""}${
        o.cluster ? "; a cluster runner" : ""
      }); Ctrl-C stops it`
    )
    return yield* Effect.never
  }).pipe(Effect.scoped, reported(false))).pipe(
    Command.withDescription(
      "Run the server (HTTP API, the RPC endpoint of --url, health and metrics) until SIGINT/SIGTERM; --with-worker also runs maintenance."
    )
  )
