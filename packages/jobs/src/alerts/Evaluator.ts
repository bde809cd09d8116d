/**
 * The evaluated alert events: a maintenance pass (every `interval`, default 10 s) that writes the
 * outbox rows of events no single statement sees happen, each in one statement
 * (internal/alertSql.ts):
 *
 * - `job.failing`: a (tenant, queue, type) with `failing_after` failures within the channel's
 *   `failing_window_s` and no recovered job among them, read from the per-minute failure_stat
 *   counters. First-try successes are counted nowhere (the hot path writes nothing for them), so
 *   this is "N failures in the window, none recovering", not strictly N in a row.
 * - `dlq.threshold`: a (tenant, queue) whose unreplayed dead letters exceed the channel's
 *   `dlq_threshold` (counted only when such a channel exists).
 * - `replay.finished`: a bulk replay request that ended within the hour.
 *
 * The first two fire once per episode: an `alert_episode` row lives while the condition holds.
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError } from "@redrive/database"
import { Duration, Effect, Metric } from "effect"
import * as AlertSql from "../internal/alertSql.js"
import * as Metrics from "../Metrics.js"

export interface EvaluatorOptions {
  /** Time between passes (default 10 s). */
  readonly interval?: Duration.DurationInput
}

/** What one pass wrote: outbox rows per event, and episodes that ended. */
export interface Evaluation {
  readonly failing: number
  readonly dlqThreshold: number
  readonly replayFinished: number
  readonly episodesEnded: number
}

export const runOnce = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [failing] = yield* AlertSql.evaluateFailing(sql)
  const [threshold] = yield* AlertSql.evaluateDlqThreshold(sql)
  const [replays] = yield* AlertSql.evaluateReplays(sql)
  yield* AlertSql.pruneWindows(sql)
  const result: Evaluation = {
    failing: failing?.fired ?? 0,
    dlqThreshold: threshold?.fired ?? 0,
    replayFinished: replays?.fired ?? 0,
    episodesEnded: (failing?.cleared ?? 0) + (threshold?.cleared ?? 0)
  }
  yield* Metric.incrementBy(Metric.tagged(Metrics.alertsFired, "event", "job.failing"), result.failing)
  yield* Metric.incrementBy(Metric.tagged(Metrics.alertsFired, "event", "dlq.threshold"), result.dlqThreshold)
  yield* Metric.incrementBy(Metric.tagged(Metrics.alertsFired, "event", "replay.finished"), result.replayFinished)
  return result
}).pipe(Effect.mapError(DbError.fromSqlError("AlertEvaluator.runOnce")), Effect.withSpan("AlertEvaluator.runOnce"))

/** `runOnce` every `interval`, forever; a failed pass is logged, never fatal. */
export const task = (options: EvaluatorOptions = {}) =>
  runOnce.pipe(
    Effect.catchAllCause((cause) => Effect.logError("redrive alerts: evaluator pass failed", cause)),
    Effect.zipRight(Effect.sleep(Duration.decode(options.interval ?? "10 seconds"))),
    Effect.forever
  )
