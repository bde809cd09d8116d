/**
 * `redrive worker`: a worker process without job handlers — a service's handlers live in the
 * service's own code, which runs them with `Redrive.layerWorker`. This one runs what needs no
 * handler: the maintenance tasks (elected: rescuer, pruner, circuit breaker, drain watcher,
 * alerts, metrics sampler) and the bulk-replay runner, so `replay --no-wait` and the server's
 * bulk replays make progress on a database whose services run no maintenance of their own.
 * `--demo` runs the demo's job types (fake APIs) instead, with --queues and --concurrency.
 * `--cluster` also makes it a cluster runner (ClusterRunner) that hosts JobEntity's commands.
 * It runs until SIGINT or SIGTERM, then shuts down gracefully.
 */
import { Command, Options } from "@effect/cli"
import { Database, JobDlqRepo, JobRepo } from "@redrive/database"
import { ClusterRunner, Controls, JobRegistry, Maintenance, Replay, ReplayRunner, Worker } from "@redrive/jobs"
import { Console, Effect, Layer, Option } from "effect"
import * as Apis from "../../demo/apis.js"
import { definitions } from "../../demo/definitions.js"
import { handlers } from "../../demo/handlers.js"
import * as Connection from "../Connection.js"
import { reported } from "../Run.js"

const options = {
  demo: Options.boolean("demo").pipe(Options.withDescription("Run the demo's job types (tenant demo; fake APIs) as well.")),
  queues: Options.text("queues").pipe(
    Options.withDescription("With --demo: only these queues (comma-separated); default every queue of its types."),
    Options.optional
  ),
  concurrency: Options.integer("concurrency").pipe(
    Options.withDescription("With --demo: jobs running at once at most."),
    Options.withDefault(50)
  ),
  cluster: Options.boolean("cluster").pipe(
    Options.withDescription(
      "Also join the database's cluster as a runner hosting replay/cancel/retry commands (REDRIVE_RUNNER_HOST, REDRIVE_RUNNER_PORT, default 34431)."
    )
  )
}

const services = (database: Database.DatabaseConfig, demo: boolean) =>
  Layer.mergeAll(Replay.layer(), Controls.layer()).pipe(
    Layer.provideMerge(Layer.mergeAll(
      JobRegistry.layer(demo ? definitions : []),
      JobRepo.JobRepo.Default,
      JobDlqRepo.layerInsecureDefault
    )),
    Layer.provideMerge(Database.layer(database))
  )

export const command = Command.make("worker", options, (o) =>
  Effect.gen(function*() {
    const database = yield* Connection.runtimeDatabase
    const queues = Option.map(o.queues, (q) => q.split(",").map((s) => s.trim()).filter((s) => s !== ""))
    const running = o.demo
      ? Worker.layer({
        handlers,
        concurrency: o.concurrency,
        ...(Option.isSome(queues) ? { queues: queues.value } : {})
      }).pipe(Layer.provide(Apis.layer))
      : Maintenance.layer()
    yield* Console.log(
      o.demo
        ? `redrive worker: the demo's job types (${definitions.map((d) => d.name).join(", ")}), maintenance and bulk replays; Ctrl-C stops it`
        : "redrive worker: maintenance (when elected) and bulk replays, no job handlers; Ctrl-C stops it"
    )
    if (o.cluster) yield* Console.log("redrive worker: a cluster runner (JobEntity's commands) as well")
    // Maintenance stays elected by its advisory lock in cluster mode too: one leader per database.
    const runner = o.cluster ? ClusterRunner.layer() : Layer.empty
    return yield* Layer.launch(
      Layer.mergeAll(running, ReplayRunner.layer(), runner).pipe(Layer.provide(services(database, o.demo)))
    )
  }).pipe(Effect.scoped, reported(false))).pipe(
    Command.withDescription("Run maintenance and the bulk-replay runner (no job handlers: those run in your service); --demo: the demo's jobs.")
  )
