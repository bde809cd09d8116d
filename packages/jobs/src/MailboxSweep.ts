/**
 * A periodic reset of the read marks on this runner's own shards, so that a persisted command
 * (a Replay sent through JobEntity) can never sit unread for @effect/cluster's ten minutes.
 *
 * Why: @effect/cluster's storage loop marks every message it reads (`last_read`) and reads a
 * marked message again only after ten minutes, or when the runner (re)acquires its shard and
 * resets the marks. A read sent while the runner held the shard and answered after it lost it (a
 * partition from Postgres, a slow Postgres making the lock refresh time out) marks the new
 * messages and then skips them. The re-acquisition's reset is then all that frees them, and it
 * gets one shard-lock interval (1 s with ClusterRunner's tuned failover) before it is given up
 * without a word. Measured in the fault suite (RunnerPartition): the late read lands 30 ms
 * before the reset; when the reset loses that race, the command waits ten minutes.
 *
 * Each sweep resets the marks on the shards this runner holds, through MessageStorage's own
 * `resetShards` (the statement the acquisition runs): a message left marked is read again
 * within one interval. A message read again while its entity already handles it is skipped by
 * @effect/cluster's entity manager (as after any acquisition), and a Replay repeated with the
 * same request id is answered from its stored reply, so a sweep never runs a command twice.
 *
 * REDRIVE_MAILBOX_SWEEP_INTERVAL (default 10 seconds): how long a stranded command can wait.
 */
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as ShardId from "@effect/cluster/ShardId"
import { Config, Duration, Effect, Layer, Schedule } from "effect"

export const defaultInterval = Duration.seconds(10)

export const config: Config.Config<Duration.Duration> = Config.duration("REDRIVE_MAILBOX_SWEEP_INTERVAL").pipe(
  Config.validate({
    message: "REDRIVE_MAILBOX_SWEEP_INTERVAL must be longer than zero",
    validation: (d) => Duration.greaterThan(d, Duration.zero)
  }),
  Config.withDefault(defaultInterval)
)

/** Every shard this runner could be assigned: 1..shardsPerGroup in each of its shard groups. */
const shardsOf = (shardingConfig: ShardingConfig.ShardingConfig["Type"]) =>
  shardingConfig.assignedShardGroups.flatMap((group) =>
    Array.from({ length: shardingConfig.shardsPerGroup }, (_, i) => ShardId.make(group, i + 1))
  )

/** One sweep: resets the read marks of the shards held now; how many shards that was. */
export const sweepOnce = Effect.fn("MailboxSweep.sweepOnce")(function*(
  shards: ReadonlyArray<ShardId.ShardId>
) {
  const sharding = yield* Sharding.Sharding
  const storage = yield* MessageStorage.MessageStorage
  const held = shards.filter((shard) => sharding.hasShardId(shard))
  // `resetShards` with no shard would be `in ()`: nothing to do.
  if (held.length > 0) yield* storage.resetShards(held)
  return held.length
})

/**
 * The sweep, forked for the layer's lifetime. Needs Sharding and MessageStorage (what
 * SingleRunner and the socket runner provide); `shardingConfig` is the runner's own overrides,
 * read with the environment as the runner reads them, for its shard groups and count.
 */
export const layer = (options: {
  readonly interval?: Duration.DurationInput | undefined
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
} = {}) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const interval = options.interval === undefined ? yield* config : Duration.decode(options.interval)
    const shards = shardsOf(yield* ShardingConfig.ShardingConfig)
    yield* sweepOnce(shards).pipe(
      // A sweep that fails (Postgres away) is tried again next interval; the runner's own loops report the outage.
      Effect.catchAllCause((cause) => Effect.logDebug("mailbox sweep failed; trying again next interval", cause)),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.delay(interval),
      Effect.forkScoped
    )
  })).pipe(Layer.provide(ShardingConfig.layerFromEnv(options.shardingConfig)))
