/**
 * One runner of `pnpm bench:scale`: what a service writes to run Redrive in cluster mode —
 * `Redrive.layerWorker` with its defaults (maintenance, completer, metrics, alerts, the replay
 * runner, a cluster runner hosting JobEntity) and one job type whose handler does nothing, so the
 * figures are the queue's own cost. SCALE_URL, SCALE_CONCURRENCY; REDRIVE_RUNNER_* for the runner.
 */
import { NodeRuntime } from "@effect/platform-node"
import { JobDefinition, Redrive } from "@redrive/jobs"
import { Console, Effect, Layer, Redacted, Schema } from "effect"

export const ScaleJob = JobDefinition.make({
  name: "scale.noop",
  queue: "scale",
  payload: Schema.Struct({ n: Schema.Int })
})

const handler = JobDefinition.handle(ScaleJob, () => Effect.void)

Layer.launch(
  Layer.merge(
    Redrive.layerWorker({
      handlers: [handler],
      concurrency: Number(process.env.SCALE_CONCURRENCY ?? 100),
      cluster: {},
      database: { url: Redacted.make(process.env.SCALE_URL ?? ""), maxConnections: 10 },
      cursorSecret: Redacted.make("scale-bench-cursor-secret")
    }),
    Layer.effectDiscard(Console.log(`scale runner ready pid=${process.pid}`))
  )
).pipe(NodeRuntime.runMain)
