/**
 * The worker: a scoped layer that claims due jobs (one statement per claim, fair across tenants,
 * skipping paused and draining scopes), runs their handlers with a concurrency limit and a
 * per-job timeout, keeps their leases alive, and hands each outcome to the completer, which
 * settles it soon after it is known. Claiming follows free capacity, not batch boundaries: a slow
 * job holds its own place and nothing else. The worker wakes on NOTIFY and polls as a fallback.
 *
 * By default the layer also takes part in maintenance (Maintenance.ts): one process per database
 * runs the maintenance tasks (rescuer, circuit breaker, pruner, alerts…), so a deployment cannot forget them. For the types
 * with a circuit breaker, the worker counts attempts and trip-class failures in memory and
 * flushes them once a second (internal/CircuitCounter.ts).
 *
 * Closing its scope shuts it down gracefully: no new claims, jobs not yet started are released at
 * once, running ones get `shutdownGrace` to finish, then they are interrupted and released so
 * another worker retries them at once without using up an attempt.
 */
import { PgClient } from "@effect/sql-pg"
import { SqlClient } from "@effect/sql"
import { Ids, LibrarySpan, PreparedStatement } from "@redrive/database"
import {
  Cause,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  FiberSet,
  Layer,
  Metric,
  MetricLabel,
  Random,
  Schedule,
  type Tracer
} from "effect"
import { hostname } from "node:os"
import * as Classify from "./Classify.js"
import * as CircuitCounter from "./internal/CircuitCounter.js"
import * as ThroughputCounter from "./internal/ThroughputCounter.js"
import * as WakeUpListener from "./internal/WakeUpListener.js"
import * as WakeUps from "./internal/WakeUps.js"
import * as Completer from "./internal/Completer.js"
import * as JobSql from "./internal/JobSql.js"
import { LaneSpan } from "./internal/LaneSpan.js"
import * as RunSpan from "./internal/RunSpan.js"
import * as TraceContext from "./internal/traceContext.js"
import * as Limits from "./Limits.js"
import type { JobContext } from "./JobContext.js"
import type { HandlersContext, JobHandler } from "./JobDefinition.js"
import * as Maintenance from "./Maintenance.js"
import * as Metrics from "./Metrics.js"
import * as Notify from "./Notify.js"
import { decide, Outcome } from "./Outcome.js"

export interface WorkerOptions<H extends ReadonlyArray<JobHandler<unknown>>> {
  readonly handlers: H
  /** Queues to claim from; default: the queues of the handlers' definitions. */
  readonly queues?: ReadonlyArray<string>
  /** Only these tenants' jobs (a dedicated worker pool for some tenants); default: every tenant. */
  readonly tenants?: ReadonlyArray<string>
  readonly workerId?: string
  /** Most jobs one claim takes (default 500). */
  readonly batchSize?: number
  /**
   * Most jobs this worker holds at once — running, or claimed and waiting for a lane (default
   * 100). Handlers run on lanes that grow up to this number only while handlers wait on I/O.
   */
  readonly concurrency?: number
  readonly pollInterval?: Duration.DurationInput
  readonly lease?: Duration.DurationInput
  readonly shutdownGrace?: Duration.DurationInput
  /** Keep completed jobs (state completed) instead of deleting them; the pruner removes them later. */
  readonly keepCompleted?: boolean
  readonly historyCap?: number
  /** Maintenance (the rescuer) elected among the processes of one database; `false` turns it off here. */
  readonly maintenance?: Maintenance.MaintenanceOptions | false
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
    const tenants = options.tenants ?? null
    const workerId = options.workerId ?? defaultWorkerId()
    const batchSize = options.batchSize ?? 500
    const concurrency = options.concurrency ?? 100
    const pollInterval = Duration.decode(options.pollInterval ?? "1 second")
    const leaseMs = Duration.toMillis(options.lease ?? "30 seconds")
    const grace = Duration.decode(options.shutdownGrace ?? "10 seconds")
    const limits = yield* Limits.Current
    const rules = yield* Classify.Rules
    const clock = yield* Effect.clock
    // Histogram tags per type, built once: recording a run allocates nothing.
    const labelsOf = new Map(
      options.handlers.map((h) => [
        h.definition.name as string,
        [MetricLabel.make("queue", h.definition.queue as string), MetricLabel.make("type", h.definition.name as string)]
      ])
    )
    const noLabels: ReadonlyArray<MetricLabel.MetricLabel> = []

    /** Claimed and not yet settled: what this worker holds a lease on. */
    const held = new Set<number>()
    /** Held jobs whose outcome (or release) is with the completer. */
    const handedOver = new Set<number>()
    /** Claimed, waiting for a lane. */
    let pending: Array<JobSql.ClaimedRow> = []
    let pendingHead = 0
    let stopping = false

    // Wake-ups of the claim loop: new work (NOTIFY, a due retry, shutdown), and room (a settle freed
    // places). Two signals, so that a settle does not cost a drained worker an empty claim.
    const wakeUps = WakeUps.make()
    const wakeUp = () => wakeUps.raise(WakeUps.work)

    // Counts the attempts of breaker-enabled types (none: no counter); created before the
    // shutdown finalizer below, so its last flush runs after the last outcomes are in.
    const circuits = yield* CircuitCounter.make(sql, options.handlers.map((h) => h.definition))
    // Completed jobs per minute for the console's throughput chart; created before the completer
    // for the same reason.
    const throughput = yield* ThroughputCounter.make(sql)

    const completer = yield* Completer.make({
      sql,
      workerId,
      keepCompleted: options.keepCompleted ?? false,
      historyCap: options.historyCap ?? 50,
      maxBatch: Math.max(batchSize, 100),
      pollInterval,
      wake: Effect.sync(wakeUp),
      throughput,
      onSettled: (ids) => {
        for (const id of ids) {
          held.delete(id)
          handedOver.delete(id)
        }
        wakeUps.raise(WakeUps.room)
      }
    })
    const handOver = (result: Completer.Result) => {
      handedOver.add(Number(result.row.id))
      circuits?.record(result.row.type, result.outcome)
      completer.push(result)
    }
    const release = (ids: ReadonlyArray<number>) => {
      for (const id of ids) handedOver.add(id)
      completer.release(ids)
    }

    // Wake-ups: NOTIFY from enqueue, replay, release and rescue. Listens anew when the listener's
    // connection is found dead (WakeUpListener: it fails, or its probes stop coming back).
    yield* WakeUpListener.run(pg, {
      channel: Notify.channel,
      probeId: workerId,
      probeInterval: "5 seconds",
      onPayload: (queue) => {
        if (queues.includes(queue)) wakeUp()
      }
    }).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("redrive worker: LISTEN connection lost", cause)),
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.forkScoped
    )

    // Leases: extend every job this worker holds well before they expire.
    yield* Effect.suspend(() => held.size === 0 ? Effect.void : Effect.asVoid(JobSql.extendLeases(sql, workerId, [...held], leaseMs))).pipe(
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
      // Even `Effect.ignore` is built on use: it cost as much as the rest of the context.
      heartbeat: Effect.suspend(() => Effect.ignore(JobSql.extendLeases(sql, workerId, [Number(row.id)], leaseMs)))
    })

    /** The outcome of a failed attempt (a lane hands a success over as `completed` itself). */
    const outcomeOf = (row: JobSql.ClaimedRow, exit: Exit.Exit<unknown, unknown>, started: number) =>
      Effect.map(Random.next, (random): Completer.Result => {
        const now = Date.now()
        return {
          row,
          outcome: decide({
            job: {
              id: Number(row.id),
              type: row.type,
              attempt: row.attempt,
              maxAttempts: row.maxAttempts,
              freeWaits: row.freeWaits
            },
            exit,
            definition: handlers.get(row.type)!.definition,
            workerId,
            now,
            durationMs: now - started,
            random,
            limits,
            rules
          })
        }
      })

    /**
     * Lanes run handlers one after another, each in its own fiber, taking claimed rows in order.
     * They grow (up to `concurrency`) only while handlers take real time: hundreds of fibers for
     * handlers that finish at once cost more than the handlers themselves. When no row waits, a
     * lane ends (one stays parked for the next claim). Timeouts: one watchdog checks every lane's
     * running job against its deadline (a timer per job also cost more than a job) and interrupts
     * the lane of a job that overran;
     * the attempt then fails with a TimeoutException and a fresh lane carries on. Granularity 100 ms.
     */
    interface Lane {
      current:
        | {
          readonly row: JobSql.ClaimedRow
          readonly started: number
          readonly deadline: number
          readonly span: Tracer.Span
        }
        | undefined
      timedOut: boolean
      /** The parent span of the lane's handlers: the running job's run span. */
      readonly parent: LaneSpan
      /** What follows each handler on this lane (made once per lane, not per job). */
      readonly after: {
        readonly onSuccess: () => Effect.Effect<void, never, HandlersContext<H>>
        readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void, never, HandlersContext<H>>
      }
    }
    // A lane is registered before its fiber starts: a lane with nothing to do ends synchronously.
    const lanes = new Map<Lane, Fiber.RuntimeFiber<void, never> | undefined>()
    let busy = 0
    const laneSet = yield* FiberSet.make<void, never>()
    const runLane = yield* FiberSet.runtime(laneSet)<HandlersContext<H>>()

    // The watchdog is a plain timer, armed only while a handler runs: as a fiber repeating on a
    // schedule it woke an idle worker ten times a second, half of that worker's idle CPU.
    let watchdog: ReturnType<typeof setTimeout> | undefined
    let watching = true
    const checkDeadlines = () => {
      watchdog = undefined
      const now = Date.now()
      let running = false
      for (const [lane, fiber] of lanes) {
        if (lane.current === undefined) continue
        running = true
        if (fiber !== undefined && !lane.timedOut && lane.current.deadline <= now) {
          lane.timedOut = true
          fiber.unsafeInterruptAsFork(fiber.id())
        }
      }
      if (running) armWatchdog()
    }
    const armWatchdog = () => {
      if (watchdog === undefined && watching) watchdog = setTimeout(checkDeadlines, 100)
    }
    // Added before the shutdown's finalizer, so it runs after it: handlers keep their timeouts
    // during the shutdown's grace.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        watching = false
        if (watchdog !== undefined) clearTimeout(watchdog)
      })
    )

    const waiting = () => pending.length - pendingHead
    const takePending = (): JobSql.ClaimedRow | undefined => {
      if (pendingHead >= pending.length) return undefined
      const row = pending[pendingHead++]!
      if (pendingHead === pending.length) {
        // Drained: start over, holding no taken row (they would outlive the young generation).
        pending = []
        pendingHead = 0
      } else if (pendingHead > 1024 && pendingHead * 2 > pending.length) {
        pending = pending.slice(pendingHead)
        pendingHead = 0
      }
      return row
    }

    /**
     * The run span: a child of the span that enqueued the job (its stored traceparent), else the
     * root of a trace. Ended by hand (not withSpan) so the outcome's class lands on it and a
     * timed-out lane can end it from outside.
     */
    const parentOf = TraceContext.parser()
    // What a lane's parent span stands for before its first job (never ended, never exported).
    const idleSpan = yield* Effect.makeSpan("redrive.lane", { root: true, captureStackTrace: false })
    // The tracer is asked for each run span directly: Effect.makeSpan per job re-reads the fiber's
    // tracer, clock, annotations and links and wraps the span in an effect, which cost as much as
    // the span itself on a no-op job. Annotations and links set around the worker do not apply to
    // run spans (they continue the enqueuer's trace, not the worker's). With no tracer installed,
    // run spans are non-recording (internal/RunSpan.ts).
    const tracer = yield* Effect.tracer
    const recording = tracer !== RunSpan.defaultTracer
    const tracing = yield* FiberRef.get(FiberRef.currentTracerEnabled)
    const timing = yield* FiberRef.get(FiberRef.currentTracerTimingEnabled)
    const noLinks: ReadonlyArray<Tracer.SpanLink> = []
    const startSpan = (row: JobSql.ClaimedRow): Tracer.Span => {
      if (!tracing) return idleSpan
      const startTime = timing ? clock.unsafeCurrentTimeNanos() : 0n
      if (!recording) return new RunSpan.RunSpan(parentOf(row.traceContext), startTime)
      const span = tracer.span(
        "redrive.job.run",
        parentOf(row.traceContext),
        Context.empty(),
        noLinks,
        startTime,
        "consumer",
        // A stack trace per job cost more than the rest of the span.
        { captureStackTrace: false }
      )
      span.attribute("redrive.job.id", row.id)
      span.attribute("redrive.job.type", row.type)
      span.attribute("redrive.job.queue", row.queue)
      span.attribute("redrive.tenant", row.tenantId)
      span.attribute("redrive.attempt", row.attempt)
      return span
    }
    const endSpan = (span: Tracer.Span, result: Completer.Result, exit: Exit.Exit<unknown, unknown>, started: number) => {
      const outcome = result.outcome
      if (span !== idleSpan) {
        span.attribute("redrive.outcome", outcome._tag)
        if (outcome._tag !== "Completed" && outcome._tag !== "Released") {
          span.attribute("redrive.error_class", outcome.errorClass)
        }
        span.end(timing ? clock.unsafeCurrentTimeNanos() : 0n, exit)
      }
      Metrics.jobRunTime.unsafeUpdate((Date.now() - started) / 1000, labelsOf.get(result.row.type) ?? noLabels)
    }

    /**
     * A lane with the continuations that follow each of its handlers: the job leaves the lane,
     * its outcome goes to the completer, and the lane takes its next row.
     */
    const makeLane = (): Lane => {
      const lane: Lane = {
        current: undefined,
        timedOut: false,
        parent: new LaneSpan(idleSpan),
        after: {
          onSuccess: () => {
            const job = leave(lane)
            if (job !== undefined) finish(job.span, { row: job.row, outcome: completed }, succeeded, job.started)
            return next(lane)
          },
          onFailure: (cause) => {
            const job = leave(lane)
            if (job === undefined) return next(lane)
            const exit = Exit.failCause(cause)
            return Effect.flatMap(outcomeOf(job.row, exit, job.started), (result) => {
              finish(job.span, result, exit, job.started)
              return next(lane)
            })
          }
        }
      }
      return lane
    }
    /** Frees the lane; a handler that took real time is waiting on I/O, so more lanes share the work. */
    const leave = (lane: Lane) => {
      const job = lane.current
      lane.current = undefined
      busy--
      if (job !== undefined && Date.now() - job.started >= 2 && waiting() > 0) spawn(2)
      return job
    }
    const finish = (span: Tracer.Span, result: Completer.Result, exit: Exit.Exit<unknown, unknown>, started: number) => {
      endSpan(span, result, exit, started)
      handOver(result)
    }

    /**
     * With no row left, one lane parks here instead of ending, and the next claim's rows start on
     * it: an idle worker woken by one job then starts it without creating a fiber (~0.15 ms of its
     * wake-up, cold). Other lanes end. The shutdown unparks it to end.
     */
    let unpark: (() => void) | undefined
    const park = Effect.async<void>((resume) => {
      unpark = () => {
        unpark = undefined
        resume(Effect.void)
      }
      return Effect.sync(() => {
        unpark = undefined
      })
    })

    const laneBody = (lane: Lane): Effect.Effect<void, never, HandlersContext<H>> => Effect.suspend(() => next(lane))

    /**
     * Runs the next waiting row on the lane, then the one after (or parks, or ends). One step
     * around each handler, with the lane's own continuations: a success is handed over without
     * building its Exit or its outcome, and nothing is allocated for what follows the handler.
     */
    const next = (lane: Lane): Effect.Effect<void, never, HandlersContext<H>> => {
      const row = stopping ? undefined : takePending()
      if (row === undefined) {
        return stopping || unpark !== undefined ? Effect.void : Effect.flatMap(park, () => laneBody(lane))
      }
      const span = startSpan(row)
      const handler = handlers.get(row.type)!
      const started = Date.now()
      lane.current = { row, started, deadline: started + Duration.toMillis(handler.definition.timeout), span }
      busy++
      armWatchdog()
      // The lane's parent span (provided once per lane) now stands for this job's run span.
      lane.parent.current = span
      return Effect.matchCauseEffect(handler.run(row.payload, contextOf(row)), lane.after)
    }

    const spawn = (count: number): void => {
      for (let i = 0; i < count && lanes.size < concurrency; i++) {
        const lane = makeLane()
        lanes.set(lane, undefined)
        const fiber = runLane(laneBody(lane).pipe(
          Effect.withParentSpan(lane.parent),
          Effect.onExit((laneExit) =>
            Effect.suspend(() => {
              lanes.delete(lane)
              const running = lane.current
              if (running !== undefined) busy--
              if (running === undefined) return Effect.void
              if (!lane.timedOut) {
                // Interrupted by the shutdown: the job is released, its span ends interrupted.
                if (running.span !== idleSpan) running.span.end(clock.unsafeCurrentTimeNanos(), laneExit)
                return Effect.void
              }
              const timeout = new Cause.TimeoutException(
                `handler exceeded its timeout of ${Duration.format(handlers.get(running.row.type)!.definition.timeout)}`
              )
              const timedOut = Exit.fail(timeout)
              // The overrun job fails as a timeout; a fresh lane takes over the rest.
              return Effect.map(outcomeOf(running.row, timedOut, running.started), (result) => {
                endSpan(running.span, result, timedOut, running.started)
                handOver(result)
                if (waiting() > 0) spawn(1)
              })
            })
          )
        ))
        if (lanes.has(lane)) lanes.set(lane, fiber)
      }
    }

    /** Hands claimed rows to the lanes: enough idle lanes for a few rows, more grow on I/O. */
    const dispatch = (rows: ReadonlyArray<JobSql.ClaimedRow>) => {
      for (const row of rows) {
        held.add(Number(row.id))
        pending.push(row)
      }
      // The parked lane (if any) counts as idle.
      const idle = lanes.size - busy
      unpark?.()
      spawn(Math.min(4, waiting()) - idle)
    }

    let lastServed: string | null = null
    const claim = (limit: number) =>
      Effect.suspend(() =>
        PreparedStatement.execute(
          "redrive_claim",
          JobSql.claimBatch(sql, { queues, types, tenants, limit, workerId, leaseMs, after: lastServed })
        )
      ).pipe(
        Effect.tap((rows) => {
          if (rows.length > 0) lastServed = rows[0]!.lastServed
          for (const row of rows) {
            Metrics.jobQueueWait.unsafeUpdate(Math.max(0, row.waitMs) / 1000, labelsOf.get(row.type) ?? noLabels)
          }
          return Metric.update(Metrics.claimBatchSize, rows.length)
        }),
        LibrarySpan.withSpan("Worker.claim"),
        Effect.catchAllCause((cause) =>
          Effect.logError("redrive worker: claim failed", cause).pipe(
            Effect.zipRight(Effect.sleep(pollInterval)),
            Effect.as([] as ReadonlyArray<JobSql.ClaimedRow>)
          )
        )
      )

    // Below this much free room, a busy worker waits briefly for more before claiming: many
    // one-row claims would cost a round trip each.
    const smallClaim = Math.max(1, Math.floor(Math.min(batchSize, concurrency) / 4))
    const pollMs = Duration.toMillis(pollInterval)
    const takeWake = (timeoutMs: number) => wakeUps.wait(WakeUps.work, timeoutMs)
    const takeRoom = (timeoutMs: number) => wakeUps.wait(WakeUps.work | WakeUps.room, timeoutMs)

    /** Claims whenever there is room, waits for a wake-up when the queues are drained or it is full. */
    const claimLoop = Effect.gen(function*() {
      while (!stopping) {
        const free = concurrency - held.size
        if (free <= 0) {
          yield* takeRoom(pollMs)
          continue
        }
        if (held.size > 0 && free < smallClaim) yield* takeRoom(20)
        if (stopping) break
        const limit = Math.min(batchSize, concurrency - held.size)
        const rows = yield* claim(limit)
        if (rows.length > 0) dispatch(rows)
        // Fewer rows than asked: the queues were drained when we claimed. Wait for a wake-up
        // (new work notified meanwhile has left its token already) or a poll.
        if (rows.length < limit) yield* takeWake(pollMs)
      }
    })
    const claimer = yield* Effect.forkScoped(claimLoop)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        stopping = true
        wakeUps.raise(WakeUps.work | WakeUps.room)
        unpark?.()
        // Let a claim in flight finish: its rows are ours only once we have them back.
        yield* Effect.interruptible(Fiber.join(claimer)).pipe(Effect.timeout(grace), Effect.ignore)
        // Not started: back at once, no attempt used.
        const notStarted: Array<number> = []
        for (let row = takePending(); row !== undefined; row = takePending()) notStarted.push(Number(row.id))
        if (notStarted.length > 0) release(notStarted)
        // Running: `grace` to finish, then interrupted; their jobs are released below.
        const finished = yield* Effect.interruptible(FiberSet.awaitEmpty(laneSet)).pipe(Effect.timeout(grace), Effect.exit)
        if (Exit.isFailure(finished)) yield* FiberSet.clear(laneSet)
        // What is held and not with the completer was interrupted: release it, then wait for the
        // last settles.
        const interrupted = [...held].filter((id) => !handedOver.has(id))
        if (interrupted.length > 0) release(interrupted)
        yield* Effect.interruptible(
          Effect.suspend(() => (held.size === 0 ? Effect.void : Effect.fail("held" as const))).pipe(
            Effect.retry(Schedule.spaced("10 millis"))
          )
        ).pipe(Effect.timeout("10 seconds"), Effect.ignore)
      })
    )

    return { workerId, queues, inFlight: Effect.sync(() => held.size) } as const
  })

const completed = Outcome.Completed()
/** A handler's success as its run span ends with it (the value is not recorded). */
const succeeded: Exit.Exit<unknown, unknown> = Exit.void

/**
 * The worker as a layer: it runs while the layer's scope is open, and (unless `maintenance` is
 * false) takes part in the election of the process that runs maintenance for this database.
 */
export const layer = <const H extends ReadonlyArray<JobHandler<unknown>>>(options: WorkerOptions<H>) => {
  const worker = Layer.scopedDiscard(make(options))
  return options.maintenance === false ? worker : Layer.merge(worker, Maintenance.layer(options.maintenance ?? {}))
}
