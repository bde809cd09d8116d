/**
 * The completer: settles each job's outcome soon after its handler finishes, independently of
 * the other jobs claimed with it (River's job completer does the same). Outcomes are buffered;
 * one flusher fiber settles everything buffered in one statement, and while that round trip is
 * in flight the next outcomes gather, so batches grow with the load and a lone job is settled
 * at once. A settled job frees its place in the worker (`onSettled`).
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { LibrarySpan, PreparedStatement } from "@redrive/database"
import { Clock, Duration, Effect, Metric, Schedule } from "effect"
import type { Outcome } from "../Outcome.js"
import * as Metrics from "../Metrics.js"
import { logDeadLetterConflict } from "./deadLetterSql.js"
import * as JobSql from "./JobSql.js"
import * as WakeUps from "./WakeUps.js"
import type { ThroughputCounter } from "./ThroughputCounter.js"

export interface Result {
  readonly row: JobSql.ClaimedRow
  readonly outcome: Outcome
}

export interface CompleterOptions {
  readonly sql: SqlClient
  readonly workerId: string
  readonly keepCompleted: boolean
  readonly historyCap: number
  /** Most outcomes settled by one statement. */
  readonly maxBatch: number
  /** A retry due sooner than this is woken for locally instead of waiting for a poll. */
  readonly pollInterval: Duration.Duration
  /** Wakes the claim loop (a retry became due). */
  readonly wake: Effect.Effect<void>
  /** Called with the ids of jobs no longer held: settled, released, or given up on. */
  readonly onSettled: (ids: ReadonlyArray<number>) => void
  /** Counts the completions once their settle statement succeeded. */
  readonly throughput: ThroughputCounter
}

export interface Completer {
  /** Buffers a finished job's outcome (synchronous: called from the lanes). */
  readonly push: (result: Result) => void
  /** Buffers jobs to put back without using an attempt (not started, or interrupted). */
  readonly release: (ids: ReadonlyArray<number>) => void
}

export const make = (options: CompleterOptions) =>
  Effect.gen(function*() {
    const { sql, workerId } = options
    let results: Array<Result> = []
    let releases: Array<number> = []
    // One flag, one waiter (the flusher): a queue's take made a Deferred for every settle.
    const signal = WakeUps.make()
    const notify = () => signal.raise(WakeUps.work)

    const settle = (batch: ReadonlyArray<Result>, release: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        yield* Metric.update(Metrics.settleBatchSize, batch.length + release.length)
        const done: Array<number> = []
        const failures: Array<JobSql.SettleFailure> = []
        const toRelease: Array<number> = [...release]
        let plain = true
        let nextWake = Number.POSITIVE_INFINITY
        for (const { outcome, row } of batch) {
          const id = Number(row.id)
          switch (outcome._tag) {
            case "Completed":
              done.push(id)
              // A success after failures is counted as a recovery by the settle statement.
              if (row.attempt > 1 || row.freeWaits > 0 || row.replayOf !== null) plain = false
              break
            case "Released":
              toRelease.push(id)
              break
            default: {
              const action = settleActions[outcome._tag]
              const runAt = outcome._tag === "Retried" || outcome._tag === "Waited" || outcome._tag === "Snoozed"
                ? outcome.runAt
                : null
              if (runAt !== null) nextWake = Math.min(nextWake, runAt.getTime())
              failures.push({
                id,
                attempt: row.attempt,
                action,
                runAt: runAt?.toISOString() ?? null,
                // Encoded by JSON.stringify: its Dates become ISO strings (Date.toJSON).
                entry: outcome.entry,
                errorClass: outcome.errorClass,
                reason: outcome.reason
              })
            }
          }
        }
        if (failures.length === 0 && plain) {
          if (done.length > 0) {
            yield* PreparedStatement.execute(
              "redrive_complete",
              JobSql.completeBatch(sql, { workerId, done, keepCompleted: options.keepCompleted })
            )
          }
        } else if (done.length + failures.length > 0) {
          // Prepared by shape (which of its parts a batch needs: a handful of texts): planning the
          // whole statement took 6–18 ms of Postgres per batch on the failure path.
          const [counts] = yield* PreparedStatement.execute(
            "redrive_settle",
            JobSql.settleBatch(sql, {
              workerId,
              done,
              keepCompleted: options.keepCompleted,
              failures,
              historyCap: options.historyCap
            })
          )
          if (counts && counts.blocked > 0) yield* logDeadLetterConflict(counts.blocked)
        }
        // Counted once per tag set of the batch, after the statement succeeded.
        yield* countOutcomes(batch, options.throughput)
        if (toRelease.length > 0) {
          yield* JobSql.releaseBatch(sql, workerId, toRelease)
          yield* Metric.incrementBy(Metrics.jobsReleased, toRelease.length)
        }
        // A retry due before the next poll: wake up for it instead of waiting.
        const now = yield* Clock.currentTimeMillis
        if (Number.isFinite(nextWake) && nextWake - now < Duration.toMillis(options.pollInterval)) {
          yield* Effect.sleep(Duration.millis(Math.max(0, nextWake - now))).pipe(
            Effect.zipRight(options.wake),
            Effect.forkDaemon
          )
        }
      }).pipe(
        // A database blip must not lose the outcomes: retry. If it still fails, the jobs are let go
        // (their leases are no longer extended) and the rescuer puts them back when the leases expire.
        Effect.retry({ schedule: Schedule.exponential("100 millis"), times: 5 }),
        Effect.catchAllCause((cause) => Effect.logError("redrive worker: settle failed", cause)),
        Effect.ensuring(Effect.sync(() => {
          const ids = batch.map((r) => Number(r.row.id))
          for (const id of release) ids.push(id)
          options.onSettled(ids)
        })),
        LibrarySpan.withSpan("Worker.settle", { attributes: { jobs: batch.length + release.length } })
      )

    /** Takes what is buffered (at most maxBatch outcomes) and settles it. */
    const flushOnce = Effect.suspend(() => {
      if (results.length === 0 && releases.length === 0) return Effect.void
      const batch = results.length <= options.maxBatch ? results : results.slice(0, options.maxBatch)
      results = results.length <= options.maxBatch ? [] : results.slice(options.maxBatch)
      const release = releases
      releases = []
      return settle(batch, release)
    })

    const flush: Effect.Effect<void> = Effect.suspend(() =>
      results.length === 0 && releases.length === 0 ? Effect.void : Effect.zipRight(flushOnce, flush)
    )

    // The flusher: waits for something to settle, settles it, and goes again.
    yield* signal.wait(WakeUps.work, Number.POSITIVE_INFINITY).pipe(Effect.zipRight(flush), Effect.forever, Effect.forkScoped)

    return {
      push: (result) => {
        results.push(result)
        notify()
      },
      release: (ids) => {
        for (const id of ids) releases.push(id)
        notify()
      },
    } satisfies Completer
  })

const settleActions: Record<Exclude<Outcome["_tag"], "Completed" | "Released">, JobSql.SettleFailure["action"]> = {
  Retried: "retry",
  Waited: "wait",
  Snoozed: "snooze",
  Discarded: "discard",
  DeadLettered: "dead"
}

/**
 * The batch's outcomes by (queue, type[, class]), one increment per tag set. Successes are tallied
 * in nested maps (no key built per job); failures, the slow path, by a joined key.
 */
const countOutcomes = (batch: ReadonlyArray<Result>, throughput: ThroughputCounter) =>
  Effect.suspend(() => {
    const completed = new Map<string, Map<string, number>>()
    const failed = new Map<string, number>()
    for (const { outcome, row } of batch) {
      if (outcome._tag === "Completed") {
        throughput.record(row.tenantId, row.queue, 1)
        let byType = completed.get(row.queue)
        if (byType === undefined) completed.set(row.queue, byType = new Map())
        byType.set(row.type, (byType.get(row.type) ?? 0) + 1)
      } else if (outcome._tag !== "Released") {
        const key = `${outcome._tag}\u0000${row.queue}\u0000${row.type}\u0000${outcome.errorClass}`
        failed.set(key, (failed.get(key) ?? 0) + 1)
      }
    }
    const updates: Array<Effect.Effect<void>> = []
    for (const [queue, byType] of completed) {
      for (const [type, n] of byType) updates.push(Metric.incrementBy(Metrics.byJob(Metrics.jobsCompleted, queue, type), n))
    }
    for (const [key, n] of failed) {
      const [tag, queue, type, errorClass] = key.split("\u0000") as [FailedTag, string, string, string]
      for (const metric of failureMetrics[tag]) {
        updates.push(Metric.incrementBy(Metrics.byJob(metric, queue, type, errorClass), n))
      }
    }
    return Effect.all(updates, { discard: true })
  })

type FailedTag = Exclude<Outcome["_tag"], "Completed" | "Released">
const failureMetrics: Record<FailedTag, ReadonlyArray<Metric.Metric.Counter<number>>> = {
  Retried: [Metrics.jobsFailed, Metrics.jobsRetried],
  Waited: [Metrics.jobsFailed, Metrics.jobsRetried],
  Snoozed: [Metrics.jobsSnoozed],
  Discarded: [Metrics.jobsDiscarded],
  DeadLettered: [Metrics.jobsFailed, Metrics.jobsDeadLettered]
}
