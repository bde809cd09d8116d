/**
 * A cluster runner's settings from the environment: REDRIVE_RUNNER_* for its address (not the
 * HOST/PORT a PaaS sets), the tuned failover defaults, overrides with @effect/cluster's names,
 * and durations that must be written "1 second".
 */
import { RunnerAddress } from "@effect/cluster"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Option } from "effect"
import * as ClusterRunner from "../src/ClusterRunner.js"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(ClusterRunner.config, ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("ClusterRunner.config", () => {
  it.effect("defaults: localhost:34431, no separate bind address, 3 s shard-lock expiry and 1 s refresh, health and poll", () =>
    Effect.gen(function*() {
      // HOST and PORT mean something else on many hosts: they are not read.
      const settings = yield* read({ HOST: "0.0.0.0", PORT: "8080" })
      assert.strictEqual(settings.host, "localhost")
      assert.strictEqual(settings.port, 34431)
      assert.isTrue(Option.isNone(settings.listenHost))
      assert.strictEqual(Duration.toMillis(settings.shardLockExpiration), 3000)
      assert.strictEqual(Duration.toMillis(settings.refreshAssignmentsInterval), 1000)
      assert.strictEqual(Duration.toMillis(settings.runnerHealthCheckInterval), 1000)
      assert.strictEqual(Duration.toMillis(settings.entityMessagePollInterval), 1000)
      assert.strictEqual(Duration.toMillis(settings.mailboxSweepInterval), 10_000)
      const sharding = ClusterRunner.shardingConfigOf(settings)
      assert.isTrue(Option.isNone(sharding.runnerListenAddress!))
    }))

  it.effect("the environment sets the advertised and bound address and overrides the failover settings", () =>
    Effect.gen(function*() {
      const settings = yield* read({
        REDRIVE_RUNNER_HOST: "10.0.0.5",
        REDRIVE_RUNNER_PORT: "4100",
        REDRIVE_RUNNER_LISTEN_HOST: "0.0.0.0",
        SHARD_LOCK_EXPIRATION: "5 seconds",
        ENTITY_MESSAGE_POLL_INTERVAL: "500 millis",
        REDRIVE_MAILBOX_SWEEP_INTERVAL: "2 seconds"
      })
      assert.strictEqual(Duration.toMillis(settings.mailboxSweepInterval), 2000)
      const sharding = ClusterRunner.shardingConfigOf(settings)
      assert.deepStrictEqual(sharding.runnerAddress, Option.some(RunnerAddress.make("10.0.0.5", 4100)))
      assert.deepStrictEqual(sharding.runnerListenAddress, Option.some(RunnerAddress.make("0.0.0.0", 4100)))
      assert.strictEqual(Duration.toMillis(Duration.decode(sharding.shardLockExpiration!)), 5000)
      assert.strictEqual(Duration.toMillis(Duration.decode(sharding.entityMessagePollInterval!)), 500)
      assert.strictEqual(Duration.toMillis(Duration.decode(sharding.refreshAssignmentsInterval!)), 1000)
    }))

  it.effect("a duration written `1s`, a port out of range, an empty host or a zero sweep interval is a ConfigError naming it", () =>
    Effect.gen(function*() {
      for (const [env, name] of [
        [{ RUNNER_HEALTH_CHECK_INTERVAL: "1s" }, "RUNNER_HEALTH_CHECK_INTERVAL"],
        [{ REDRIVE_RUNNER_PORT: "70000" }, "REDRIVE_RUNNER_PORT"],
        [{ REDRIVE_RUNNER_HOST: " " }, "REDRIVE_RUNNER_HOST"],
        [{ REDRIVE_MAILBOX_SWEEP_INTERVAL: "0 seconds" }, "REDRIVE_MAILBOX_SWEEP_INTERVAL"]
      ] as const) {
        const exit = yield* Effect.exit(read(env))
        assert.isTrue(Exit.isFailure(exit), name)
        assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), name)
      }
    }))
})
