/**
 * Redrive behind the peers-bench adapter contract (../shared/bench-peers/lib/adapter.js): each
 * method is a Promise over the same Effect code a service would run. Bundled by
 * `pnpm bench:build` into dist/redrive-peers.mjs, so the harness loads it with plain Node.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { SqlClient } from "@effect/sql"
import { Database, MigrationRunner, Roles } from "@redrive/database"
// By module, not through the package's index: the index loads every module, the cluster
// runner's (sockets, RPC, undici) among them, which a worker that is no cluster runner never uses.
import * as Enqueue from "@redrive/jobs/Enqueue"
import * as JobDefinition from "@redrive/jobs/JobDefinition"
import * as Redrive from "@redrive/jobs/Redrive"
import * as Replay from "@redrive/jobs/Replay"
import { Effect, Layer, ManagedRuntime, Redacted, Schedule, Schema } from "effect"
import { fileURLToPath } from "node:url"
import { type Handler, runHandler } from "./harnessHandler.js"

export interface Settings {
  readonly batchSize: number
  /** most jobs the worker holds at once (running or waiting for a lane) */
  readonly concurrency: number
  readonly pollMs: number
  readonly replayBatch: number
  /**
   * Other job types whose circuit is open while the bench runs (default 0): each has its
   * control row and 1,000 jobs waiting as paused in the bench queue, to measure the claim with them.
   */
  readonly openCircuits?: number
  /** Database.DatabaseConfig's preparedStatements (default true): false measures the unnamed path. */
  readonly preparedStatements?: boolean
}

export interface OpenContext {
  readonly databaseUrl: string
  readonly settings: Settings
  readonly maxAttempts: number
  readonly role: "producer" | "worker" | "both"
}


export const open = async (ctx: OpenContext) => {
  const { settings } = ctx
  const BenchJob = JobDefinition.make({
    name: "bench.job",
    queue: "bench",
    payload: Schema.Unknown,
    // Zero backoff: the harness measures the failure path, not the wait between attempts.
    retry: { maxAttempts: ctx.maxAttempts, base: 0, max: 0 },
    // On as a user would switch it on: every attempt is counted for the breaker.
    circuitBreaker: true
  })
  // Migrate as the harness's (administrator's) URL, then run as the runtime role, as a service does.
  await Effect.runPromise(
    MigrationRunner.up(fileURLToPath(new URL("../../migrations", import.meta.url))).pipe(
      Effect.provide(Database.layer({ url: Redacted.make(ctx.databaseUrl), maxConnections: 2, administrator: true })),
      Effect.provide(NodeContext.layer),
      Effect.scoped
    )
  )
  const database: Database.DatabaseConfig = {
    url: Roles.localRuntimeUrl(Redacted.make(ctx.databaseUrl)),
    // claim, completer, lease extension, LISTEN, the maintenance leader's connection, enqueue
    maxConnections: 6,
    preparedStatements: settings.preparedStatements ?? true
  }
  const common = {
    definitions: [BenchJob],
    database,
    cursorSecret: Redacted.make("bench-peers-cursor-secret"),
    replay: { batchSize: settings.replayBatch }
  }
  // Before the worker starts (a producer, or jobs enqueued ahead of it): what an API process runs.
  const api = ManagedRuntime.make(Layer.merge(Redrive.layer(common), NodeContext.layer))
  let worker: ManagedRuntime.ManagedRuntime<Redrive.Services, unknown> | undefined
  // Once the worker runs, the process is a worker process: one Redrive.layerWorker serves it all.
  const runtime = {
    runPromise: <A, E>(effect: Effect.Effect<A, E, Redrive.Services>): Promise<A> =>
      (worker ?? api).runPromise(effect)
  }
  const openCircuits = settings.openCircuits ?? 0
  if (openCircuits > 0 && ctx.role !== "worker") {
    await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`with types as (
            select 'bench.open.' || i as type from generate_series(1, ${openCircuits}) as i
          ), controls as (
            insert into redrive.control (tenant_id, queue, type, state, reason, initiated_by)
            select '*', '*', type, 'paused', 'circuit_open', 'circuit-breaker' from types
            returning 1
          )
          insert into redrive.job (queue, type, state, payload)
          select 'bench', t.type, 'paused', '{}'::jsonb from types t, generate_series(1, 1000)
          where (select count(*) from controls) >= 0`))
  }

  return {
    async enqueueBatch(payloads: ReadonlyArray<unknown>) {
      await runtime.runPromise(Enqueue.many(BenchJob, payloads))
    },
    async enqueueOne(payload: unknown) {
      await runtime.runPromise(Enqueue.one(BenchJob, payload))
    },
    async startWorker(handler: Handler) {
      const run = JobDefinition.handle(BenchJob, (payload) => runHandler(handler, payload))
      // Everything on, as a user runs a worker: maintenance (elected: rescuer, pruner, circuit
      // breaker, alerts outbox), the completer, metrics, spans without an exporter, controls and
      // the bulk-replay runner.
      worker = ManagedRuntime.make(Redrive.layerWorker({
        ...common,
        handlers: [run],
        batchSize: settings.batchSize,
        concurrency: settings.concurrency,
        pollInterval: `${settings.pollMs} millis`,
        shutdownGrace: "5 seconds"
      }))
      await worker.runtime()
    },
    async stop() {
      if (worker) await worker.dispose()
      await api.dispose()
    },
    async replayFailed() {
      return runtime.runPromise(Effect.gen(function*() {
        const replay = yield* Replay.Replay
        const request = yield* replay.createBulk({ filter: {}, scopeTenant: "*", dryRun: false, requestedBy: "bench" })
        yield* replay.runBulk(request.id, "bench")
        // The worker's bulk-replay runner may have claimed the request first: wait for its end.
        const done = yield* replay.get(request.id).pipe(
          Effect.filterOrFail((r) => r.state !== "pending" && r.state !== "running", () => "not ended" as const),
          Effect.retry({ schedule: Schedule.spaced("5 millis"), times: 6000 })
        )
        return done.replayed
      }))
    },
    async countTerminal() {
      const [row] = await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ pending: number; dead: number }>`
          select (select count(*) from redrive.job where state in ('available', 'running', 'paused')
                  ${openCircuits > 0 ? sql`and type = ${BenchJob.name}` : sql``})::int as pending,
                 (select count(*) from redrive.job_dlq where replayed_at is null)::int as dead`))
      return { pending: row!.pending, failed: row!.dead, completed: null, deadLettered: row!.dead }
    },
    describe() {
      return { redrive_settings: settings }
    }
  }
}
