#!/usr/bin/env node
/**
 * `redrive-serve [--with-worker]`: Redrive's server (HTTP API, RPC, /healthz, /readyz, /metrics) on
 * REDRIVE_HTTP_HOST:REDRIVE_HTTP_PORT over DATABASE_URL. `--with-worker` also runs maintenance
 * (rescuer, pruner, alert dispatch; elected) in this process. SIGTERM/SIGINT shut it down gracefully.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import * as Server from "../Server.js"

const withWorker = process.argv.slice(2).includes("--with-worker")

Layer.launch(Server.layer(withWorker ? { worker: { handlers: [] } } : {})).pipe(NodeRuntime.runMain)
