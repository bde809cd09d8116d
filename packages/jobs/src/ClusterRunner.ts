/**
 * One runner of a multi-process @effect/cluster over Postgres: the socket transport (each runner
 * listens on its own port and dials the others at their advertised `host:port`), runners and
 * messages in the `cluster_*` tables of the connection's database, and JobEntity registered on
 * it. N processes with this layer share JobEntity's shards: a command sent from any runner
 * reaches the owner of its entity id, and a dead runner's shards move to the survivors.
 *
 * The same application code runs on `JobEntity.layerSingleRunner` (one process, no port) or on
 * this layer: both provide Sharding, which is all a `JobEntity.client` needs.
 *
 * Settings (Config, from the environment unless given in `options`):
 * - REDRIVE_RUNNER_HOST (default `localhost`): the address other runners dial; must be routable
 *   from them. REDRIVE_RUNNER_PORT (default 34431): one per runner on one machine.
 *   REDRIVE_RUNNER_LISTEN_HOST (optional): the interface to bind when it differs from the host.
 *   Prefixed because `HOST`/`PORT` (what @effect/cluster reads) often mean something else.
 * - Failover, with @effect/cluster's own names and tuned defaults (a killed runner's entities
 *   resume elsewhere in about 3 s instead of about 30 s; measured in ClusterRunner.test.ts):
 *   SHARD_LOCK_EXPIRATION (3 seconds), REFRESH_ASSIGNMENTS_INTERVAL (1 second),
 *   RUNNER_HEALTH_CHECK_INTERVAL (1 second), ENTITY_MESSAGE_POLL_INTERVAL (1 second).
 *   Durations are written `"1 second"`, `"500 millis"` (not `1s`).
 * - REDRIVE_MAILBOX_SWEEP_INTERVAL (10 seconds): how often the runner resets the read marks on
 *   its own shards, so a command a late read marked waits that long, not ten minutes (MailboxSweep).
 * - Any other @effect/cluster setting through its own environment name (SHARDS_PER_GROUP, which
 *   must be the same on every runner, ENTITY_TERMINATION_TIMEOUT, …) or `options.shardingConfig`.
 *
 * Shard locks are session advisory locks 1000001–1000300 (one bigint key); Redrive's own advisory
 * locks use the two-int key space, so they never collide.
 */
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type { ShardingConfig } from "@effect/cluster/ShardingConfig"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { SqlClient } from "@effect/sql"
import { Config, Duration, Effect, Layer, Option } from "effect"
import * as JobCommands from "./JobCommands.js"
import * as JobEntity from "./JobEntity.js"
import * as MailboxSweep from "./MailboxSweep.js"

export interface ClusterRunnerSettings {
  /** The address other runners dial to reach this one. */
  readonly host: string
  readonly port: number
  /** The interface to bind, when it differs from `host` (e.g. `0.0.0.0` behind NAT). */
  readonly listenHost: Option.Option<string>
  readonly shardLockExpiration: Duration.Duration
  readonly refreshAssignmentsInterval: Duration.Duration
  readonly runnerHealthCheckInterval: Duration.Duration
  readonly entityMessagePollInterval: Duration.Duration
  /** How often the runner resets the read marks on its shards (MailboxSweep). */
  readonly mailboxSweepInterval: Duration.Duration
}

/** The tuned failover defaults (see the module comment and README "Cluster mode"). */
export const failoverDefaults = {
  shardLockExpiration: Duration.seconds(3),
  refreshAssignmentsInterval: Duration.seconds(1),
  runnerHealthCheckInterval: Duration.seconds(1),
  entityMessagePollInterval: Duration.seconds(1)
} as const

export const config: Config.Config<ClusterRunnerSettings> = Config.all({
  host: Config.string("REDRIVE_RUNNER_HOST").pipe(
    Config.validate({ message: "REDRIVE_RUNNER_HOST must not be empty", validation: (s) => s.trim() !== "" }),
    Config.withDefault("localhost")
  ),
  port: Config.port("REDRIVE_RUNNER_PORT").pipe(Config.withDefault(34431)),
  listenHost: Config.option(Config.string("REDRIVE_RUNNER_LISTEN_HOST")),
  shardLockExpiration: Config.duration("SHARD_LOCK_EXPIRATION").pipe(
    Config.withDefault(failoverDefaults.shardLockExpiration)
  ),
  refreshAssignmentsInterval: Config.duration("REFRESH_ASSIGNMENTS_INTERVAL").pipe(
    Config.withDefault(failoverDefaults.refreshAssignmentsInterval)
  ),
  runnerHealthCheckInterval: Config.duration("RUNNER_HEALTH_CHECK_INTERVAL").pipe(
    Config.withDefault(failoverDefaults.runnerHealthCheckInterval)
  ),
  entityMessagePollInterval: Config.duration("ENTITY_MESSAGE_POLL_INTERVAL").pipe(
    Config.withDefault(failoverDefaults.entityMessagePollInterval)
  ),
  mailboxSweepInterval: MailboxSweep.config
})

export interface ClusterRunnerOptions extends Partial<ClusterRunnerSettings> {
  /** Any other @effect/cluster setting; wins over the environment and the fields above. */
  readonly shardingConfig?: Partial<ShardingConfig["Type"]> | undefined
}

/** The ShardingConfig fields a runner's settings decide. */
export const shardingConfigOf = (settings: ClusterRunnerSettings): Partial<ShardingConfig["Type"]> => ({
  runnerAddress: Option.some(RunnerAddress.make(settings.host, settings.port)),
  runnerListenAddress: Option.map(settings.listenHost, (host) => RunnerAddress.make(host, settings.port)),
  shardLockExpiration: settings.shardLockExpiration,
  refreshAssignmentsInterval: settings.refreshAssignmentsInterval,
  runnerHealthCheckInterval: settings.runnerHealthCheckInterval,
  entityMessagePollInterval: settings.entityMessagePollInterval
})

/** Two-key advisory lock space shared with the migration runner (1) and maintenance's leader (2). */
export const startLockKey = [0x5244_5256, 3] as const

/**
 * Builds `layer` in the caller's scope while holding a session advisory lock, so runners that
 * start together build it one after another. @effect/cluster creates its tables with `CREATE TABLE
 * IF NOT EXISTS`, which two sessions running at once can fail (a duplicate `pg_type` row): a
 * deployment's replicas starting together would lose one of them.
 */
const oneAtATime = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  Layer.scopedContext(Effect.gen(function*() {
    const runnerScope = yield* Effect.scope
    return yield* Effect.scoped(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const connection = yield* sql.reserve
      yield* Effect.acquireRelease(
        connection.executeRaw("select pg_advisory_lock($1, $2)", startLockKey),
        () => Effect.ignore(connection.executeRaw("select pg_advisory_unlock($1, $2)", startLockKey))
      )
      return yield* Layer.buildWithScope(layer, runnerScope)
    }))
  }))

/**
 * The runner itself (Sharding, Runners, MessageStorage): listens on its port once built and
 * deregisters on close. Needs SqlClient. Runners starting together build one at a time.
 */
export const layerSharding = (options: ClusterRunnerOptions = {}) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const { shardingConfig, ...given } = options
    const settings: ClusterRunnerSettings = { ...(yield* config), ...given }
    const listen = Option.getOrElse(settings.listenHost, () => settings.host)
    // Said once it listens: which address the other runners dial is the first thing to check.
    const announce = Layer.effectDiscard(Effect.logInfo(
      `redrive cluster runner: listening on ${listen}:${settings.port}, advertised to the other runners as ` +
        `${settings.host}:${settings.port}`
    ))
    const merged = { ...shardingConfigOf(settings), ...shardingConfig }
    return Layer.mergeAll(announce, MailboxSweep.layer({ interval: settings.mailboxSweepInterval, shardingConfig: merged }))
      .pipe(Layer.provideMerge(oneAtATime(NodeClusterSocket.layer({
        storage: "sql",
        runnerHealth: "ping",
        shardingConfig: merged
      }))))
  }))

/**
 * JobEntity on this runner: needs SqlClient and Replay; also provides Sharding, for clients
 * (the cluster counterpart of `JobEntity.layerSingleRunner`).
 */
export const layer = (options: ClusterRunnerOptions & {
  readonly commands?: JobCommands.JobCommandsOptions | undefined
} = {}) => {
  const { commands, ...runner } = options
  return JobEntity.layer.pipe(
    Layer.provide(JobCommands.layer(commands)),
    Layer.provideMerge(layerSharding(runner))
  )
}
