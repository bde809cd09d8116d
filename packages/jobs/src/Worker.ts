/**
 * The worker: a scoped layer that claims batches of due jobs (one statement, fair across
 * tenants, skipping paused and draining scopes), runs their handlers with a concurrency limit
 * and a per-job timeout, keeps their leases alive, and settles each batch in one statement.
 * It wakes on NOTIFY and polls as a fallback. Closing its scope shuts it down gracefully: no
 * new claims, in-flight jobs get `shutdownGrace` to finish, then they are interrupted and their
 * leases released so another worker retries them at once.
 */
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "@effect/sql"
import { Ids } from "@redrive/database"
import {
  Cause,
  Clock,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberSet,
  Layer,
  Metric,
  MetricBoundaries,
  Queue,
  Random,
  Ref,
  Schedule,
  Stream
} from "effect"
import { hostname } from "node:os"
import * as JobSql from "./internal/JobSql.js"
import type { JobContext } from "./JobContext.js"
import type { HandlersContext, JobHandler } from "./JobDefinition.js"
import * as Notify from "./Notify.js"
import { decide, Outcome } from "./Outcome.js"

export interface WorkerOptions<H extends ReadonlyArray<JobHandler<unknown>>> {
  readonly handlers: H
  /** Queues to claim from; default: the queues of the handlers' definitions. */
  readonly queues?: ReadonlyArray<string>
  /** Only these tenants' jobs (a dedicated worker pool for some tenants); default: every tenant. */
  readonly tenants?: ReadonlyArray<string>
  readonly workerId?: string
  /** Jobs per claim. */
  readonly batchSize?: number
  /** Claim loops: while one loop runs its batch, another claims the next. */
  readonly loops?: number
  /** Handlers running at once, per loop. */
  readonly concurrency?: number
  readonly pollInterval?: Duration.DurationInput
  readonly lease?: Duration.DurationInput
  readonly shutdownGrace?: Duration.DurationInput
  /** Keep completed jobs (state completed) instead of deleting them; the pruner removes them later. */
  readonly keepCompleted?: boolean
  readonly historyCap?: number
}

export const jobsCompleted = Metric.counter("redrive_jobs_completed_total", { incremental: true })
export const jobsRetried = Metric.counter("redrive_jobs_retried_total", { incremental: true })
export const jobsDeadLettered = Metric.counter("redrive_jobs_dead_lettered_total", { incremental: true })
export const jobsDiscarded = Metric.counter("redrive_jobs_discarded_total", { incremental: true })
export const jobsReleased = Metric.counter("redrive_jobs_released_total", { incremental: true })
export const claimBatchSize = Metric.histogram(
  "redrive_claim_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 12 })
)

interface Result {
  readonly row: JobSql.ClaimedRow
  readonly outcome: Outcome
}

export const defaultWorkerId = () => `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`

export const make = <const H extends ReadonlyArray<JobHandler<unknown>>>(options: WorkerOptions<H>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = yield* PgClient.PgClient
    // Each handler needs part of HandlersContext<H>; the whole context is provided to every lane.
    const handlers = new Map(
      options.handlers.map((h) => [h.definition.name as string, h as JobHandler<HandlersContext<H>>])
    )
    const queues = options.queues ?? [...new Set(options.handlers.map((h) => h.definition.queue as string))]
    const types = [...handlers.keys()]
    const workerId = options.workerId ?? defaultWorkerId()
    const batchSize = options.batchSize ?? 500
    const loops = options.loops ?? 2
    const concurrency = options.concurrency ?? 100
    const pollInterval = Duration.decode(options.pollInterval ?? "1 second")
    const leaseMs = Duration.toMillis(options.lease ?? "30 seconds")
    const grace = Duration.decode(options.shutdownGrace ?? "10 seconds")
    const keepCompleted = options.keepCompleted ?? false
    const historyCap = options.historyCap ?? 50

    const inFlight = new Set<number>()
    const stopping = yield* Ref.make(false)
    // Wake-up tokens: a NOTIFY wakes one idle loop, not all of them (a single job would otherwise
    // cost every loop a claim). At most `loops` tokens wait; more would wake nobody new.
    const wake = yield* Queue.dropping<void>(loops)
    const wakeOne = Effect.asVoid(Queue.offer(wake, undefined))
    const scope = yield* Effect.scope

    // Wake-ups: NOTIFY from enqueue, replay, release and rescue. Reconnects if the listener drops.
    yield* pg.listen(Notify.channel).pipe(
      Stream.runForEach((queue) => (queues.includes(queue) ? wakeOne : Effect.void)),
      Effect.catchAllCause((cause) => Effect.logWarning("redrive worker: LISTEN connection lost", cause)),
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.forkScoped
    )

    // Leases: extend every running job of this worker well before they expire.
    yield* Effect.suspend(() =>
      inFlight.size === 0 ? Effect.void : JobSql.extendLeases(sql, workerId, [...inFlight], leaseMs)
    ).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("redrive worker: lease extension failed", cause)),
      Effect.repeat(Schedule.spaced(Duration.millis(Math.max(50, leaseMs / 3)))),
      Effect.forkScoped
    )

    const contextOf = (row: JobSql.ClaimedRow): JobContext => ({
      // Rows come from constrained columns: brand them without validating again.
      jobId: Ids.JobId.make(Number(row.id), true),
      tenantId: Ids.TenantId.make(row.tenantId, true),
      queue: Ids.QueueName.make(row.queue, true),
      type: Ids.JobType.make(row.type, true),
      attempt: row.attempt,
      maxAttempts: row.maxAttempts,
      workerId,
      // Built on use: constructing a statement per job up front cost more than running most jobs.
      heartbeat: Effect.suspend(() => JobSql.extendLeases(sql, workerId, [Number(row.id)], leaseMs)).pipe(Effect.ignore)
    })

    /**
     * A lane runs handlers one after another, in its own fiber. A batch starts with a few lanes
     * and adds lanes (up to `concurrency`) only while handlers take real time: hundreds of
     * fibers for handlers that finish at once cost more than the handlers themselves.
     * Timeouts: one watchdog checks every lane's running job against its deadline (a timer per
     * job also cost more than a job) and interrupts the lane of a job that overran; the job's
     * attempt then fails with a TimeoutException and a fresh lane carries on. Granularity 100 ms.
     */
    interface Lane {
      current: { readonly row: JobSql.ClaimedRow; readonly started: number; readonly deadline: number } | undefined
      timedOut: boolean
    }
    const lanes = new Map<Lane, Fiber.RuntimeFiber<void, never>>()
    yield* Effect.sync(() => {
      const now = Date.now()
      for (const [lane, fiber] of lanes) {
        if (lane.current !== undefined && !lane.timedOut && lane.current.deadline <= now) {
          lane.timedOut = true
          fiber.unsafeInterruptAsFork(fiber.id())
        }
      }
    }).pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkScoped)

    const outcomeOf = (row: JobSql.ClaimedRow, exit: Exit.Exit<unknown, unknown>, started: number) => {
      if (Exit.isSuccess(exit)) return Effect.succeed<Result>({ row, outcome: completed })
      return Effect.map(Random.next, (random): Result => {
        const now = Date.now()
        return {
          row,
          outcome: decide({
            job: { id: Number(row.id), type: row.type, attempt: row.attempt, maxAttempts: row.maxAttempts },
            exit,
            definition: handlers.get(row.type)!.definition,
            workerId,
            now,
            durationMs: now - started,
            random
          })
        }
      })
    }

    /** Runs the rows on growing lanes; each result is pushed as soon as it is known. */
    const runRows = (rows: ReadonlyArray<JobSql.ClaimedRow>, results: Array<Result>) =>
      Effect.scoped(Effect.gen(function*() {
        const set = yield* FiberSet.make<void, never>()
        const run = yield* FiberSet.runtime(set)<HandlersContext<H>>()
        const maxWidth = Math.min(concurrency, rows.length)
        let width = 0
        let next = 0

        const runOne = (row: JobSql.ClaimedRow, lane: Lane) =>
          Effect.suspend(() => {
            const handler = handlers.get(row.type)!
            const started = Date.now()
            lane.current = { row, started, deadline: started + Duration.toMillis(handler.definition.timeout) }
            return Effect.flatMap(Effect.exit(handler.run(row.payload, contextOf(row))), (exit) => {
              lane.current = undefined
              // A handler that took real time is waiting on I/O: let more lanes share the batch.
              if (Date.now() - started >= 2 && width < maxWidth && next < rows.length) spawn(2)
              return outcomeOf(row, exit, started)
            })
          })

        const laneBody = (lane: Lane): Effect.Effect<void, never, HandlersContext<H>> =>
          Effect.suspend(() =>
            next >= rows.length
              ? Effect.void
              : Effect.flatMap(runOne(rows[next++]!, lane), (result) => {
                results.push(result)
                return laneBody(lane)
              })
          )

        const spawn = (count: number): void => {
          for (let i = 0; i < count && width < maxWidth; i++) {
            width++
            const lane: Lane = { current: undefined, timedOut: false }
            const fiber = run(laneBody(lane).pipe(
              Effect.onExit(() =>
                Effect.suspend(() => {
                  lanes.delete(lane)
                  width--
                  const running = lane.current
                  if (!lane.timedOut || running === undefined) return Effect.void
                  const timeout = new Cause.TimeoutException(
                    `handler exceeded its timeout of ${Duration.format(handlers.get(running.row.type)!.definition.timeout)}`
                  )
                  // The overrun job fails as a timeout; a fresh lane takes over the rest.
                  return Effect.map(outcomeOf(running.row, Exit.fail(timeout), running.started), (result) => {
                    results.push(result)
                    spawn(1)
                  })
                })
              )
            ))
            lanes.set(lane, fiber)
          }
        }

        spawn(Math.min(maxWidth, 4))
        yield* FiberSet.awaitEmpty(set)
      }))

    const settle = (results: ReadonlyArray<Result>, unfinished: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        const done: Array<number> = []
        const release: Array<number> = [...unfinished]
        const failures: Array<JobSql.SettleFailure> = []
        let plain = true
        let nextWake = Number.POSITIVE_INFINITY
        for (const { outcome, row } of results) {
          const id = Number(row.id)
          switch (outcome._tag) {
            case "Completed":
              done.push(id)
              if (row.attempt > 1 || row.replayOf !== null) plain = false
              break
            case "Released":
              release.push(id)
              break
            default: {
              const action = outcome._tag === "Retried"
                ? "retry"
                : outcome._tag === "Snoozed"
                ? "snooze"
                : outcome._tag === "Discarded"
                ? "discard"
                : "dead"
              const runAt = outcome._tag === "Retried" || outcome._tag === "Snoozed" ? outcome.runAt : null
              if (runAt !== null) nextWake = Math.min(nextWake, runAt.getTime())
              failures.push({
                id,
                attempt: row.attempt,
                action,
                runAt: runAt?.toISOString() ?? null,
                entry: { ...outcome.entry, at: outcome.entry.at.toISOString(), ...nextRunAtJson(outcome.entry.nextRunAt) },
                errorClass: outcome.errorClass,
                reason: outcome.reason,
                fingerprint: outcome.fingerprint
              })
            }
          }
        }
        if (failures.length === 0 && plain) {
          if (done.length > 0) yield* JobSql.completeBatch(sql, { workerId, done, keepCompleted })
          yield* Metric.incrementBy(jobsCompleted, done.length)
        } else {
          const [counts] = yield* JobSql.settleBatch(sql, {
            workerId,
            done,
            keepCompleted,
            failures: JSON.stringify(failures),
            historyCap
          })
          if (counts) {
            yield* Metric.incrementBy(jobsCompleted, counts.completed)
            yield* Metric.incrementBy(jobsRetried, counts.retried)
            yield* Metric.incrementBy(jobsDeadLettered, counts.deadLettered)
            yield* Metric.incrementBy(jobsDiscarded, counts.discarded)
          }
        }
        if (release.length > 0) {
          yield* JobSql.releaseBatch(sql, workerId, release)
          yield* Metric.incrementBy(jobsReleased, release.length)
        }
        // A retry due before the next poll: wake up for it instead of waiting.
        const now = yield* Clock.currentTimeMillis
        if (Number.isFinite(nextWake) && nextWake - now < Duration.toMillis(pollInterval)) {
          yield* Effect.sleep(Duration.millis(Math.max(0, nextWake - now))).pipe(
            Effect.zipRight(wakeOne),
            Effect.forkIn(scope)
          )
        }
      }).pipe(
        // A database blip must not lose the outcome: retry; if it still fails, the leases expire
        // and the rescuer puts the jobs back.
        Effect.retry({ schedule: Schedule.exponential("100 millis"), times: 5 }),
        Effect.catchAllCause((cause) => Effect.logError("redrive worker: settle failed", cause)),
        Effect.withSpan("Worker.settle", { attributes: { jobs: results.length + unfinished.length } })
      )

    /** Runs a claimed batch; on interruption, settles what finished and releases the rest. */
    const processBatch = (rows: ReadonlyArray<JobSql.ClaimedRow>) =>
      Effect.uninterruptibleMask((restore) => {
        const results: Array<Result> = []
        for (const row of rows) inFlight.add(Number(row.id))
        return restore(runRows(rows, results)).pipe(
          Effect.onExit(() => {
            const finished = new Set(results.map((r) => Number(r.row.id)))
            const unfinished = rows.map((r) => Number(r.id)).filter((id) => !finished.has(id))
            return settle(results, unfinished).pipe(
              Effect.ensuring(Effect.sync(() => {
                for (const row of rows) inFlight.delete(Number(row.id))
              }))
            )
          })
        )
      })

    const tenants = options.tenants ?? null
    const claim = JobSql.claimBatch(sql, { queues, types, tenants, limit: batchSize, workerId, leaseMs }).pipe(
      Effect.tap((rows) => Metric.update(claimBatchSize, rows.length)),
      Effect.withSpan("Worker.claim"),
      Effect.catchAllCause((cause) =>
        Effect.logError("redrive worker: claim failed", cause).pipe(
          Effect.zipRight(Effect.sleep(pollInterval)),
          Effect.as([] as ReadonlyArray<JobSql.ClaimedRow>)
        )
      )
    )

    const loop = Effect.gen(function*() {
      while (!(yield* Ref.get(stopping))) {
        const rows = yield* claim
        if (rows.length > 0) yield* processBatch(rows)
        // A full batch: there is probably more. Otherwise the queue was drained when we claimed;
        // wait for a wake-up (new work was notified meanwhile: the token is already there) or a poll.
        if (rows.length < batchSize) yield* Queue.take(wake).pipe(Effect.timeout(pollInterval), Effect.ignore)
      }
    })

    const fibers = yield* Effect.forEach(Array.from({ length: loops }), () => Effect.forkScoped(loop))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Ref.set(stopping, true)
        yield* Queue.offerAll(wake, Array.from({ length: loops }, () => undefined))
        // Finalizers run uninterruptibly: the wait must be made interruptible for the timeout to fire.
        const finished = yield* Effect.interruptible(Fiber.joinAll(fibers)).pipe(Effect.timeout(grace), Effect.exit)
        if (Exit.isFailure(finished)) yield* Fiber.interruptAll(fibers)
      })
    )

    return { workerId, queues, inFlight: Effect.sync(() => inFlight.size) } as const
  })

const completed = Outcome.Completed()

const nextRunAtJson = (at: Date | undefined) => (at === undefined ? {} : { nextRunAt: at.toISOString() })

/** The worker as a layer: it runs while the layer's scope is open. */
export const layer = <const H extends ReadonlyArray<JobHandler<unknown>>>(options: WorkerOptions<H>) =>
  Layer.scopedDiscard(make(options))
