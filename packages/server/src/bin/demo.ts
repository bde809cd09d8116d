#!/usr/bin/env node
/**
 * `pnpm demo [--serve] [--port N]` (also `redrive demo`): Redrive's failure path in half a minute
 * (../demo/Demo.ts); `--serve` then keeps serving the demo's data and prints the URL and an admin key.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Demo from "../demo/Demo.js"

const args = process.argv.slice(2)
const portAt = args.indexOf("--port")
const port = portAt >= 0 ? Number(args[portAt + 1]) : 8080
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  console.error(`redrive demo: --port must be a port number (1–65535), got ${String(args[portAt + 1])}`)
  process.exit(2)
}

Demo.run(args.includes("--serve") ? { serve: { port } } : {}).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
