/**
 * MailboxSweep frees a command that @effect/cluster's storage loop marked read and then skipped,
 * the state a late read leaves after its runner lost its shards (a partition from Postgres; the
 * fault suite's RunnerPartition). Once the runner holds its shards, a trigger marks every new
 * message as read the moment it is stored, as that late read does: without the sweep the Replay
 * below waits ten minutes (checked with a one-hour interval: it times out).
 */
import * as EntityId from "@effect/cluster/EntityId"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardId from "@effect/cluster/ShardId"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { JobDlqRepo, JobRepo } from "@redrive/database"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, Option, Schedule } from "effect"
import * as JobCommands from "../src/JobCommands.js"
import * as JobEntity from "../src/JobEntity.js"
import * as JobRegistry from "../src/JobRegistry.js"
import * as MailboxSweep from "../src/MailboxSweep.js"
import * as Replay from "../src/Replay.js"
import { Email, seedDeadLetters } from "./replayFixtures.js"

const TestLayer = JobEntity.layerSingleRunner({
  shardingConfig: { entityMessagePollInterval: "1 second", shardsPerGroup: 30 },
  mailboxSweepInterval: "500 millis"
}).pipe(
  Layer.provideMerge(Layer.mergeAll(Replay.layer(), JobCommands.layer())),
  Layer.provideMerge(Layer.mergeAll(JobRegistry.layer([Email]), JobDlqRepo.layerInsecureDefault, JobRepo.JobRepo.Default)),
  Layer.provideMerge(TestDatabase.layer)
)

const allShards = Array.from({ length: 30 }, (_, i) => ShardId.make("default", i + 1))

/** Waits until the runner holds every shard: its acquisition (which resets the marks itself) is over. */
const shardsHeld = Effect.flatMap(Sharding.Sharding, (sharding) =>
  Effect.suspend(() => allShards.every((shard) => sharding.hasShardId(shard)) ? Effect.void : Effect.fail("not yet"))
).pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300 }))

layer(TestLayer, { excludeTestServices: true, timeout: "60 seconds" })("MailboxSweep", (it) => {
  it.effect("a command marked read and skipped by a late read is answered within a sweep, once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [id] = yield* seedDeadLetters({ queue: "mailbox-sweep", count: 1 })
      yield* shardsHeld
      yield* sql`create function mark_read() returns trigger language plpgsql as $$
        begin new.last_read := now(); return new; end $$`
      yield* sql`create trigger mark_read before insert on cluster_messages for each row execute function mark_read()`
      const started = Date.now()
      const result = yield* Effect.flatMap(JobEntity.client, (client) =>
        client.replay(id!, { requestId: "stranded-1", by: "sweep-test" })).pipe(Effect.timeout("20 seconds"))
      const ms = Date.now() - started
      assert.isTrue(result.created)
      const jobs = yield* sql<{ id: string }>`select id from redrive.job where replay_of = ${id!}`
      assert.deepStrictEqual(jobs.map((j) => Number(j.id)), [result.jobId])
      // Well inside @effect/cluster's ten minutes: a sweep (500 ms) plus a storage poll (1 s).
      assert.isBelow(ms, 10_000)
      const dlq = Option.getOrThrow(yield* Effect.flatMap(JobDlqRepo.JobDlqRepo, (r) => r.get(id!)))
      assert.strictEqual(dlq.replayJobId, result.jobId)
      const entity = yield* Effect.map(Sharding.Sharding, (s) => s.getShardId(EntityId.make(`dlq:${id}`), "default"))
      const stored = yield* sql<{ n: string }>`
        select count(*) as n from cluster_messages where shard_id = ${`${entity.group}:${entity.id}`}`
      assert.strictEqual(Number(stored[0]!.n), 1, "one stored message, marked by the trigger")
    }))

  it.effect("a sweep resets the shards this runner holds and no others", () =>
    Effect.gen(function*() {
      yield* shardsHeld
      assert.strictEqual(yield* MailboxSweep.sweepOnce(allShards), 30)
      assert.strictEqual(yield* MailboxSweep.sweepOnce([ShardId.make("elsewhere", 1)]), 0)
    }))
})
