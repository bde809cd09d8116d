/**
 * Every metric the job runtime records, in one place (as @effect/cluster keeps ClusterMetrics).
 * Counters are incremental; exporters read them through Effect's metric registry.
 *
 * The job counters are tagged `queue` and `type` (and `class` where an error class applies) and
 * incremented once per batch and tag set (`byJob`), never once per job: the completer tallies a
 * settled batch first (internal/Completer.ts). The gauges are sampled by the maintenance leader
 * (MetricsSampler.ts), so only the leading process reports them.
 */
import { Metric, MetricBoundaries, MetricLabel } from "effect"

export const jobsEnqueued = Metric.counter("redrive_jobs_enqueued_total", { incremental: true })

export const jobsCompleted = Metric.counter("redrive_jobs_completed_total", { incremental: true })
/** Every failed attempt (retried, waited, dead-lettered), by class. */
export const jobsFailed = Metric.counter("redrive_jobs_failed_total", { incremental: true })
/** Failed attempts that will run again (a free wait included), by class. */
export const jobsRetried = Metric.counter("redrive_jobs_retried_total", { incremental: true })
export const jobsSnoozed = Metric.counter("redrive_jobs_snoozed_total", { incremental: true })
export const jobsDeadLettered = Metric.counter("redrive_jobs_dead_lettered_total", { incremental: true })
export const jobsDiscarded = Metric.counter("redrive_jobs_discarded_total", { incremental: true })

/** A counter tagged with a job's queue and type (and class): one metric key per tag set. */
export const byJob = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  queue: string,
  type: string,
  errorClass?: string
) =>
  Metric.taggedWithLabels(
    metric,
    errorClass === undefined
      ? [MetricLabel.make("queue", queue), MetricLabel.make("type", type)]
      : [MetricLabel.make("queue", queue), MetricLabel.make("type", type), MetricLabel.make("class", errorClass)]
  )

const enqueuedByJob = new Map<string, Metric.Metric.Counter<number>>()
/** Made once per queue and type, not per enqueue (a tagged metric is a new object with its labels and closures). */
export const enqueued = (queue: string, type: string) => {
  const key = `${queue}\u0000${type}`
  let counter = enqueuedByJob.get(key)
  if (counter === undefined) {
    counter = byJob(jobsEnqueued, queue, type)
    enqueuedByJob.set(key, counter)
  }
  return counter
}

/** Handler run time per attempt, seconds (tags queue, type). */
export const jobRunTime = Metric.histogram(
  "redrive_job_run_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 18 }),
  "handler run time per attempt"
)
/** From run_at to the claim that started the attempt, seconds (tags queue, type). */
export const jobQueueWait = Metric.histogram(
  "redrive_job_queue_wait_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 20 }),
  "time a due job waited for a worker"
)

/** Sampled by the maintenance leader (MetricsSampler.ts). */
export const queueDepth = Metric.gauge("redrive_queue_depth", {
  description: "unfinished jobs, by queue and state (available, paused, running)"
})
export const dlqDepth = Metric.gauge("redrive_dlq_depth", {
  description: "dead letters not replayed, by type and class"
})
export const pausedScopes = Metric.gauge("redrive_paused_scopes", {
  description: "control rows pausing, draining or probing a scope, by state"
})
/** Put back without using an attempt: not started, or interrupted by a shutdown. */
export const jobsReleased = Metric.counter("redrive_jobs_released_total", { incremental: true })
export const claimBatchSize = Metric.histogram(
  "redrive_claim_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 12 })
)
export const settleBatchSize = Metric.histogram(
  "redrive_settle_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 12 })
)

export const jobsRescued = Metric.counter("redrive_jobs_rescued_total", { incremental: true })
export const rescuedToDlq = Metric.counter("redrive_jobs_rescued_dead_lettered_total", { incremental: true })
/** 1 while this process runs the maintenance tasks, else 0. */
export const maintenanceLeader = Metric.gauge("redrive_maintenance_leader")

export const circuitTransitions = Metric.counter("redrive_circuit_transitions_total", {
  description: "circuit breaker transitions, by transition (Open, HalfOpen, ReleaseProbes, Close)",
  incremental: true
})
export const circuitJobsPaused = Metric.counter("redrive_circuit_jobs_paused_total", {
  description: "waiting jobs moved to paused because their type's circuit opened",
  incremental: true
})
export const circuitJobsResumed = Metric.counter("redrive_circuit_jobs_resumed_total", {
  description: "paused jobs moved back to available because their type's circuit closed",
  incremental: true
})

export const replaysTotal = Metric.counter("redrive_replays_total", {
  description: "dead letters replayed, by mode (one, bulk)",
  incremental: true
})
export const replayBatchesTotal = Metric.counter("redrive_replay_batches_total", {
  description: "bulk replay batches run",
  incremental: true
})
export const replayRequestsTotal = Metric.counter("redrive_replay_requests_total", {
  description: "bulk replay requests finished, by state",
  incremental: true
})

export const rowsPruned = Metric.counter("redrive_rows_pruned_total", {
  description: "rows deleted by the pruner past their retention, by kind",
  incremental: true
})
export const jobsRerun = Metric.counter("redrive_jobs_rerun_total", {
  description: "completed or cancelled jobs run again (JobCommands.rerun)",
  incremental: true
})
export const alertAttempts = Metric.counter("redrive_alert_attempts_total", {
  description: "alert sends, by channel kind and outcome (delivered, failed, timeout)",
  incremental: true
})
export const alertsCoalesced = Metric.counter("redrive_alerts_coalesced_total", {
  description: "alert deliveries sent inside another's digest instead of a message of their own",
  incremental: true
})
export const alertsFired = Metric.counter("redrive_alerts_fired_total", {
  description: "evaluated alert events written to the outbox (job.failing, dlq.threshold, replay.finished)",
  incremental: true
})
