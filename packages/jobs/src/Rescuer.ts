/**
 * The rescuer: running jobs whose lease expired (their worker died, stalled past its lease, or
 * could not settle them while the database was away) go back to available with a `rescued`
 * history entry, or to the dead-letter queue as `timeout` when their attempts are used up — by
 * the same dead-letter path as the worker's settle. A crash therefore costs an attempt, so a job
 * that kills its worker every time ends in the DLQ instead of looping forever.
 * It runs as a maintenance task (Maintenance.ts): in one process per database, by default.
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError, ErrorHistory } from "@redrive/database"
import { Duration, Effect, Metric, Schedule } from "effect"
import { logDeadLetterConflict } from "./internal/deadLetterSql.js"
import * as JobSql from "./internal/JobSql.js"
import * as Metrics from "./Metrics.js"

export interface RescuerOptions {
  /** Time between passes (default 5 s). */
  readonly interval?: Duration.DurationInput
  readonly batchSize?: number
  readonly historyCap?: number
}

/** One pass: rescues expired leases in batches until none is left. */
export const rescueOnce = (options: RescuerOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const limit = options.batchSize ?? 1000
    let rescued = 0
    let deadLettered = 0
    let blocked = 0
    for (;;) {
      const [row] = yield* JobSql.rescueExpired(sql, { limit, historyCap: options.historyCap ?? ErrorHistory.defaultCap })
      rescued += row?.rescued ?? 0
      deadLettered += row?.deadLettered ?? 0
      blocked += row?.blocked ?? 0
      if ((row?.rescued ?? 0) + (row?.deadLettered ?? 0) + (row?.blocked ?? 0) < limit) break
    }
    if (blocked > 0) yield* logDeadLetterConflict(blocked)
    yield* Metric.incrementBy(Metrics.jobsRescued, rescued)
    yield* Metric.incrementBy(Metrics.rescuedToDlq, deadLettered)
    if (rescued + deadLettered > 0) {
      yield* Effect.logInfo(`redrive rescuer: ${rescued} rescued, ${deadLettered} dead-lettered`)
    }
    return { rescued, deadLettered, blocked }
  }).pipe(Effect.mapError(DbError.fromSqlError("Rescuer.rescueOnce")), Effect.withSpan("Rescuer.rescueOnce"))

/** `rescueOnce` every `interval`, forever; a failed pass is logged, never fatal. */
export const task = (options: RescuerOptions = {}) =>
  rescueOnce(options).pipe(
    Effect.catchAllCause((cause) => Effect.logError("redrive rescuer: pass failed", cause)),
    Effect.repeat(Schedule.spaced(Duration.decode(options.interval ?? "5 seconds"))),
    Effect.asVoid
  )
