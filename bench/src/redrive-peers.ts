/**
 * Redrive behind the peers-bench adapter contract (../shared/bench-peers/lib/adapter.js): each
 * method is a Promise over the same Effect code a service would run. Bundled by
 * `pnpm bench:build` into dist/redrive-peers.mjs, so the harness loads it with plain Node.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SqlClient } from "@effect/sql"
import { Database, MigrationRunner, Roles } from "@redrive/database"
import { Enqueue, JobDefinition, JobRegistry, Replay, Worker } from "@redrive/jobs"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Schema, Scope } from "effect"
import { fileURLToPath } from "node:url"

export interface Settings {
  readonly batchSize: number
  /** most jobs the worker holds at once (running or waiting for a lane) */
  readonly concurrency: number
  readonly pollMs: number
  readonly replayBatch: number
}

export interface OpenContext {
  readonly databaseUrl: string
  readonly settings: Settings
  readonly maxAttempts: number
  readonly role: "producer" | "worker" | "both"
}

type Handler = (payload: unknown) => unknown

export const open = async (ctx: OpenContext) => {
  const { settings } = ctx
  const BenchJob = JobDefinition.make({
    name: "bench.job",
    queue: "bench",
    payload: Schema.Unknown,
    // Zero backoff: the harness measures the failure path, not the wait between attempts.
    retry: { maxAttempts: ctx.maxAttempts, base: 0, max: 0 }
  })
  // Migrate as the harness's (administrator's) URL, then run as the runtime role, as a service does.
  await Effect.runPromise(
    MigrationRunner.up(fileURLToPath(new URL("../../migrations", import.meta.url))).pipe(
      Effect.provide(Database.layer({ url: Redacted.make(ctx.databaseUrl), maxConnections: 1, administrator: true })),
      Effect.provide(NodeContext.layer),
      Effect.scoped
    )
  )
  const DatabaseLive = Database.layer({
    url: Roles.localRuntimeUrl(Redacted.make(ctx.databaseUrl)),
    // claim, completer, lease extension, LISTEN, the maintenance leader's connection, enqueue
    maxConnections: 6
  })
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(Replay.layer({ batchSize: settings.replayBatch }), NodeContext.layer).pipe(
      Layer.provideMerge(JobRegistry.layer([BenchJob])),
      Layer.provideMerge(DatabaseLive)
    )
  )
  let workerScope: Scope.CloseableScope | undefined

  return {
    async enqueueBatch(payloads: ReadonlyArray<unknown>) {
      await runtime.runPromise(Enqueue.many(BenchJob, payloads))
    },
    async enqueueOne(payload: unknown) {
      await runtime.runPromise(Enqueue.one(BenchJob, payload))
    },
    async startWorker(handler: Handler) {
      const run = JobDefinition.handle(BenchJob, (payload) =>
        Effect.suspend(() => {
          const result = handler(payload)
          return result instanceof Promise ? Effect.promise(() => result) : Effect.void
        }).pipe(Effect.catchAllDefect((defect) => Effect.fail(defect))))
      const scope = await runtime.runPromise(Scope.make())
      workerScope = scope
      await runtime.runPromise(
        Layer.buildWithScope(
          Worker.layer({
            handlers: [run],
            batchSize: settings.batchSize,
            concurrency: settings.concurrency,
            pollInterval: `${settings.pollMs} millis`,
            shutdownGrace: "5 seconds"
          }),
          scope
        )
      )
    },
    async stop() {
      if (workerScope) await runtime.runPromise(Scope.close(workerScope, Exit.void))
      await runtime.dispose()
    },
    async replayFailed() {
      return runtime.runPromise(Effect.gen(function*() {
        const replay = yield* Replay.Replay
        const request = yield* replay.createBulk({ filter: {}, scopeTenant: "*", dryRun: false, requestedBy: "bench" })
        yield* replay.runBulk(request.id, "bench")
        const done = yield* replay.get(request.id)
        return done.replayed
      }))
    },
    async countTerminal() {
      const [row] = await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ pending: number; dead: number }>`
          select (select count(*) from redrive.job where state in ('available', 'running', 'paused'))::int as pending,
                 (select count(*) from redrive.job_dlq where replayed_at is null)::int as dead`))
      return { pending: row!.pending, failed: row!.dead, completed: null, deadLettered: row!.dead }
    },
    describe() {
      return { redrive_settings: settings }
    }
  }
}
