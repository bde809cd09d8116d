/**
 * The rescuer: running jobs whose lease expired (their worker died, or stalled past its lease)
 * go back to available with a `rescued` history entry, or to the dead-letter queue as
 * `timeout` when their attempts are used up. A crash therefore costs an attempt, so a job
 * that kills its worker every time ends in the DLQ instead of looping forever.
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError, ErrorHistory } from "@redrive/database"
import { Duration, Effect, Layer, Metric, Schedule } from "effect"
import * as JobSql from "./internal/JobSql.js"

export interface RescuerOptions {
  readonly interval?: Duration.DurationInput
  readonly batchSize?: number
  readonly historyCap?: number
}

export const jobsRescued = Metric.counter("redrive_jobs_rescued_total", { incremental: true })
export const rescuedToDlq = Metric.counter("redrive_jobs_rescued_dead_lettered_total", { incremental: true })

/** One pass: rescues expired leases in batches until none is left. */
export const rescueOnce = (options: RescuerOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const limit = options.batchSize ?? 1000
    let rescued = 0
    let deadLettered = 0
    for (;;) {
      const [row] = yield* JobSql.rescueExpired(sql, { limit, historyCap: options.historyCap ?? ErrorHistory.defaultCap })
      rescued += row?.rescued ?? 0
      deadLettered += row?.deadLettered ?? 0
      if ((row?.rescued ?? 0) + (row?.deadLettered ?? 0) < limit) break
    }
    yield* Metric.incrementBy(jobsRescued, rescued)
    yield* Metric.incrementBy(rescuedToDlq, deadLettered)
    if (rescued + deadLettered > 0) {
      yield* Effect.logInfo(`redrive rescuer: ${rescued} rescued, ${deadLettered} dead-lettered`)
    }
    return { rescued, deadLettered }
  }).pipe(Effect.mapError(DbError.fromSqlError("Rescuer.rescueOnce")), Effect.withSpan("Rescuer.rescueOnce"))

/** Runs `rescueOnce` every `interval` (default 15 s) for as long as the layer lives; never dies. */
export const layer = (options: RescuerOptions = {}) =>
  Layer.scopedDiscard(
    rescueOnce(options).pipe(
      Effect.catchAllCause((cause) => Effect.logError("redrive rescuer: pass failed", cause)),
      Effect.repeat(Schedule.spaced(Duration.decode(options.interval ?? "15 seconds"))),
      Effect.forkScoped
    )
  )
