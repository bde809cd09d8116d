/**
 * The two layers a service runs Redrive with, so nobody assembles the services by hand:
 *
 * - `Redrive.layer(options)`: what an API process needs: the database (runtime and tenant
 *   pools), enqueue (it needs only the SqlClient), dead-letter pages (JobDlqRepo), replay (one
 *   and bulk), operator commands (JobCommands), controls (Controls: pause, resume, drain; ControlRepo), error
 *   groups, alert channels (AlertChannels) and the job registry
 *   replay validates edited payloads with. Nothing runs in the background.
 * - `Redrive.layerWorker(options)`: the same, plus a worker for the given handlers, maintenance
 *   (elected: one process per database runs it) and the bulk-replay runner; with `cluster`, a
 *   cluster runner hosting JobEntity as well.
 *
 * Both read the database settings from the environment (`Database.config`: DATABASE_URL, …)
 * unless `database` is given, and the cursor-signing key from REDRIVE_CURSOR_SECRET unless
 * `cursorSecret` is given: cursors leave the process, so the key is required.
 */
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import { ControlRepo, Database, JobDlqRepo, JobRepo, type TenantSessions } from "@redrive/database"
import { type ConfigError, Effect, Layer, Option, type Redacted } from "effect"
import type { SqlError } from "@effect/sql/SqlError"
import * as AlertChannels from "./alerts/AlertChannels.js"
import type * as ClusterRunner from "./ClusterRunner.js"
import * as Controls from "./Controls.js"
import * as ErrorGroups from "./ErrorGroups.js"
import * as JobCommands from "./JobCommands.js"
import type { AnyJobDefinition, HandlersContext, JobHandler } from "./JobDefinition.js"
import * as JobRegistry from "./JobRegistry.js"
import * as Replay from "./Replay.js"
import * as ReplayRunner from "./ReplayRunner.js"
import * as Worker from "./Worker.js"

export interface RedriveOptions {
  /**
   * Every job type this process enqueues, inspects or replays: replay validates an edited
   * payload with its type's Schema. A worker's handlers' definitions are added to these.
   */
  readonly definitions?: ReadonlyArray<AnyJobDefinition>
  /** The database; default `Database.config` (DATABASE_URL, DATABASE_POOL_SIZE, DATABASE_TENANT_*). */
  readonly database?: Database.DatabaseConfig
  /** Signs dead-letter page cursors (≥ 16 characters); default REDRIVE_CURSOR_SECRET. */
  readonly cursorSecret?: Redacted.Redacted<string>
  readonly replay?: Replay.ReplayOptions
  readonly commands?: JobCommands.JobCommandsOptions
  readonly controls?: Controls.ControlsOptions
}

export interface RedriveWorkerOptions<H extends ReadonlyArray<JobHandler<unknown>>>
  extends RedriveOptions, Worker.WorkerOptions<H>
{
  /** The bulk-replay runner (on by default): `false` leaves bulk replays to other processes. */
  readonly replayRunner?: ReplayRunner.ReplayRunnerOptions | false
  /**
   * Also make this process a cluster runner hosting JobEntity (ClusterRunner: its own port,
   * REDRIVE_RUNNER_HOST/PORT, tuned failover), sharing the entities with the database's other
   * runners. Maintenance stays elected by its advisory lock either way.
   */
  readonly cluster?: { readonly runner?: ClusterRunner.ClusterRunnerOptions } | undefined
}

/** What `layer` provides. */
export type Services =
  | PgClient.PgClient
  | SqlClient.SqlClient
  | TenantSessions.TenantSessions
  | JobRegistry.JobRegistry
  | JobRepo.JobRepo
  | JobDlqRepo.JobDlqRepo
  | ControlRepo.ControlRepo
  | Replay.Replay
  | JobCommands.JobCommands
  | Controls.Controls
  | ErrorGroups.ErrorGroups
  | AlertChannels.AlertChannels

const database = (options: RedriveOptions) =>
  options.database === undefined ? Database.layerConfig : Database.layer(options.database)

const deadLetters = (options: RedriveOptions) =>
  Option.match(Option.fromNullable(options.cursorSecret), {
    onNone: () => JobDlqRepo.JobDlqRepo.Default,
    onSome: JobDlqRepo.layerWithSecret
  })

const base = (options: RedriveOptions): Layer.Layer<Services, SqlError | ConfigError.ConfigError> =>
  Layer.mergeAll(
    Replay.layer(options.replay),
    JobCommands.layer(options.commands),
    Controls.layer(options.controls),
    ErrorGroups.layer,
    AlertChannels.layer
  ).pipe(
    Layer.provideMerge(Layer.mergeAll(
      JobRegistry.layer(options.definitions ?? []),
      JobRepo.JobRepo.Default,
      deadLetters(options),
      ControlRepo.ControlRepo.Default
    )),
    Layer.provideMerge(database(options))
  )

/**
 * Your own services, built over Redrive's (a repository of your tables needs its SqlClient):
 * `services: InvoiceRepo.Default`. They are provided to the worker's handlers and output with
 * the rest.
 */
export interface WithServices<ROut, E, RIn> {
  readonly services?: Layer.Layer<ROut, E, RIn>
}

type BuildError = SqlError | ConfigError.ConfigError

/** Everything an API process needs (and `services`, built over it); nothing runs in the background. */
export function layer(options?: RedriveOptions): Layer.Layer<Services, BuildError>
export function layer<ROut, E, RIn>(
  options: RedriveOptions & { readonly services: Layer.Layer<ROut, E, RIn> }
): Layer.Layer<Services | ROut, BuildError | E, Exclude<RIn, Services>>
export function layer(
  options: RedriveOptions & WithServices<never, unknown, unknown> = {}
): Layer.Layer<never, unknown, unknown> {
  return options.services === undefined ? base(options) : options.services.pipe(Layer.provideMerge(base(options)))
}

/**
 * `layer` plus a worker for `handlers`, maintenance and the bulk-replay runner: the layer of a
 * worker process. It runs while its scope is open (`Layer.launch` in a main). What the handlers
 * need and neither Redrive nor `services` provides is its requirement.
 */
export function layerWorker<const H extends ReadonlyArray<JobHandler<unknown>>>(
  options: RedriveWorkerOptions<H>
): Layer.Layer<Services, BuildError, Exclude<HandlersContext<H>, Services>>
export function layerWorker<const H extends ReadonlyArray<JobHandler<unknown>>, ROut, E, RIn>(
  options: RedriveWorkerOptions<H> & { readonly services: Layer.Layer<ROut, E, RIn> }
): Layer.Layer<Services | ROut, BuildError | E, Exclude<HandlersContext<H> | RIn, Services | ROut>>
export function layerWorker(
  options: RedriveWorkerOptions<ReadonlyArray<JobHandler<unknown>>> & WithServices<never, unknown, unknown>
): Layer.Layer<never, unknown, unknown> {
  const definitions = [...(options.definitions ?? []), ...options.handlers.map((h) => h.definition)]
  const runner = options.replayRunner === false ? Layer.empty : ReplayRunner.layer(options.replayRunner ?? {})
  const clusterOptions = options.cluster
  // Loaded only for a cluster runner: its sockets, RPC serialization and HTTP client (undici)
  // are megabytes of modules a plain worker never runs (issue 16, workload E: peak RSS).
  const cluster = clusterOptions === undefined
    ? Layer.empty
    : Layer.unwrapEffect(Effect.map(
      Effect.promise(() => import("./ClusterRunner.js")),
      (ClusterRunner) => ClusterRunner.layer({ ...clusterOptions.runner, commands: options.commands })
    ))
  return Layer.mergeAll(Worker.layer(options), runner, cluster).pipe(
    Layer.provideMerge(layer({ ...options, definitions }))
  )
}
