#!/usr/bin/env node
/**
 * `redrive-serve [--with-worker] [--cluster]`: Redrive's server (HTTP API, RPC, /healthz, /readyz, /metrics) on
 * REDRIVE_HTTP_HOST:REDRIVE_HTTP_PORT over DATABASE_URL. `--with-worker` also runs maintenance
 * (rescuer, pruner, alert dispatch; elected) in this process; `--cluster` runs JobEntity on a
 * cluster runner (REDRIVE_RUNNER_HOST, REDRIVE_RUNNER_PORT; see ClusterRunner). REDRIVE_LOG_LEVEL (default Info;
 * WARN drops the per-request lines). SIGTERM/SIGINT shut it down gracefully.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Logger, LogLevel } from "effect"
import * as Server from "../Server.js"

const withWorker = process.argv.slice(2).includes("--with-worker")
const cluster = process.argv.slice(2).includes("--cluster")

Effect.gen(function*() {
  const level = yield* Config.logLevel("REDRIVE_LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
  return yield* Layer.launch(Server.layer({
    ...(withWorker ? { worker: { handlers: [] } } : {}),
    ...(cluster ? { cluster: { runner: {} } } : {})
  })).pipe(
    Logger.withMinimumLogLevel(level)
  )
}).pipe(NodeRuntime.runMain)
