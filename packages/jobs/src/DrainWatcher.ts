/**
 * The drain watcher: a maintenance task (Maintenance.ts: one process per database) that, every
 * `interval`, finishes the waiting-job moves a pause, drain or resume left (a psql call moves
 * nothing itself; a library call may have been cut short), then completes every draining scope
 * with nothing left running in one statement (`redrive.complete_drains`, migration 0018): the
 * row becomes `drained` with `drain_completed_at`, one `drain_completed` audit entry and one
 * `control.drain_completed` alert per channel. The statement re-checks `draining` under the row
 * lock, so two passes at once (a leader handover) complete a drain once.
 */
import { SqlClient } from "@effect/sql"
import { Control, DatabaseError as DbError } from "@redrive/database"
import { Duration, Effect, Schedule, Schema } from "effect"
import * as Controls from "./Controls.js"

export interface DrainWatcherOptions {
  /** Time between passes (default 1 s). */
  readonly interval?: Duration.DurationInput
  /** Most jobs one statement moves (default 10,000). */
  readonly batchSize?: number
}

const decodeControls = Schema.decodeUnknown(Schema.Array(Control.Control))

/** One pass: the pending moves, then the drains that completed (returned). */
export const runOnce = (options: DrainWatcherOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const controls = yield* Controls.make(options.batchSize === undefined ? {} : { batchSize: options.batchSize })
    const moves = yield* controls.moveWaiting()
    const drained = yield* sql`select * from redrive.complete_drains()`.pipe(
      Effect.flatMap(decodeControls),
      Effect.mapError(DbError.fromSqlError("DrainWatcher.runOnce"))
    )
    for (const c of drained) {
      yield* Effect.logInfo(`redrive drain watcher: tenant ${c.tenantId}, queue ${c.queue} drained`)
    }
    return { moved: moves.moved, drained }
  }).pipe(Effect.withSpan("DrainWatcher.runOnce"))

/** `runOnce` every `interval`, forever; a failed pass is logged, never fatal. */
export const task = (options: DrainWatcherOptions = {}) =>
  runOnce(options).pipe(
    Effect.catchAllCause((cause) => Effect.logError("redrive drain watcher: pass failed", cause)),
    Effect.repeat(Schedule.spaced(Duration.decode(options.interval ?? "1 second"))),
    Effect.asVoid
  )
