/** `node dist/main.js [api|worker|all]`: runs one process of the billing service (default `all`). */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { allInOne, apiProcess, workerProcess } from "./Layers.js"

const Role = Schema.Literal("api", "worker", "all")

const main = Effect.gen(function*() {
  const role = yield* Schema.decodeUnknown(Role)(process.argv[2] ?? "all")
  const layer = role === "api" ? apiProcess() : role === "worker" ? workerProcess() : allInOne()
  yield* Effect.logInfo(`billing: ${role} process starting`)
  return yield* Layer.launch(layer)
})

// SIGTERM / SIGINT interrupt the layer: the worker finishes or releases what it holds.
main.pipe(NodeRuntime.runMain)
