/**
 * The gauges (queue depth, DLQ depth, paused scopes), sampled by one query every `interval`
 * (default 15 s) as a maintenance task: one process per database reads them, so the database
 * pays for one sample per interval however many workers run, and only the leading process
 * reports the gauges. DLQ depth comes from the error-group counters (dlq_group), never from a
 * scan of job_dlq. A tag set that disappears is set to 0 once, so a drained queue reads 0.
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError, RawSql } from "@redrive/database"
import { Duration, Effect, Metric, MetricLabel, Schedule } from "effect"
import * as Metrics from "./Metrics.js"

export interface MetricsSamplerOptions {
  /** Time between samples (default 15 s). */
  readonly interval?: Duration.DurationInput
}

interface Sample {
  readonly kind: "queue" | "dlq" | "paused"
  readonly a: string
  readonly b: string
  readonly n: number
}

const gaugeOf = {
  queue: { metric: Metrics.queueDepth, a: "queue", b: "state" },
  dlq: { metric: Metrics.dlqDepth, a: "type", b: "class" },
  paused: { metric: Metrics.pausedScopes, a: "state", b: undefined }
} as const

/** Reads every gauge in one statement and sets them; returns the rows read. */
export const sampleOnce = (seen: Map<string, Sample> = new Map()) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* RawSql.of(sql)<Sample>`
      select 'queue' as kind, queue as a, state as b, count(*)::int as n
      from redrive.job where state in ('available', 'paused', 'running') group by queue, state
      union all
      select 'dlq', type, error_class, sum(count)::int from redrive.dlq_group where count > 0 group by type, error_class
      union all
      select 'paused', state, '', count(*)::int from redrive.control
      where state in ('paused', 'draining', 'probing') group by state`
    const now = new Map<string, Sample>()
    for (const row of rows) now.set(`${row.kind}\u0000${row.a}\u0000${row.b}`, row)
    for (const [key, row] of seen) if (!now.has(key)) now.set(key, { ...row, n: 0 })
    for (const row of now.values()) {
      const g = gaugeOf[row.kind]
      const labels = g.b === undefined
        ? [MetricLabel.make(g.a, row.a)]
        : [MetricLabel.make(g.a, row.a), MetricLabel.make(g.b, row.b)]
      yield* Metric.set(Metric.taggedWithLabels(g.metric, labels), row.n)
    }
    seen.clear()
    for (const [key, row] of now) if (row.n > 0) seen.set(key, row)
    return rows
  }).pipe(Effect.mapError(DbError.fromSqlError("MetricsSampler.sampleOnce")), Effect.withSpan("MetricsSampler.sampleOnce"))

/** `sampleOnce` every `interval`, forever; a failed sample is logged, never fatal. */
export const task = (options: MetricsSamplerOptions = {}) =>
  Effect.suspend(() => {
    const seen = new Map<string, Sample>()
    return sampleOnce(seen).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("redrive metrics: sample failed", cause)),
      Effect.repeat(Schedule.spaced(Duration.decode(options.interval ?? "15 seconds"))),
      Effect.asVoid
    )
  })
