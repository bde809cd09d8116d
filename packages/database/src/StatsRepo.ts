/**
 * Reads of the operator views `queue_health` and `failure_stats` (migration 0009). The views are
 * `security_invoker`: under `Tenant.withTenant` a tenant sees its own rows only.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { fromSqlError } from "./DatabaseError.js"
import * as RawSql from "./RawSql.js"

/** Counts arrive as bigint strings; numeric as a string; double precision as a number. */
const Count = Schema.Union(Schema.Number, Schema.NumberFromString)

export const QueueHealth = Schema.Struct({
  tenantId: Schema.String,
  queue: Schema.String,
  available: Count,
  scheduled: Count,
  retrying: Count,
  running: Count,
  paused: Count,
  /** Seconds the oldest due job has waited; null when none is due. */
  oldestAvailableAgeS: Schema.NullOr(Schema.Number),
  deadLettered24h: Count
})
export type QueueHealth = typeof QueueHealth.Type

export const FailureStats = Schema.Struct({
  tenantId: Schema.String,
  queue: Schema.String,
  type: Schema.String,
  errorClass: Schema.String,
  failures1h: Count,
  deadLettered1h: Count,
  recovered1h: Count,
  failures24h: Count,
  deadLettered24h: Count,
  recovered24h: Count,
  /** Of the jobs that failed with this class in 24 h, the share that later succeeded; null without data. */
  retrySuccessRate24h: Schema.NullOr(Count)
})
export type FailureStats = typeof FailureStats.Type

/**
 * One minute of throughput_stat (completed jobs) and failure_stat, summed over the queues, types
 * and classes the caller can see.
 */
export const TimelineBucket = Schema.Struct({
  at: Schema.DateFromSelf,
  completed: Count,
  failures: Count,
  deadLettered: Count,
  recovered: Count
})
export type TimelineBucket = typeof TimelineBucket.Type

export interface TimelineRequest {
  /** Whole minutes back from the current one (the current minute included). */
  readonly minutes: number
  /** Only this tenant's counters (an admin narrowing the view; a tenant block sees its own anyway). */
  readonly tenantId?: string | undefined
}

export class StatsRepo extends Effect.Service<StatsRepo>()("@redrive/database/StatsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // Aliased columns: the view's `_1h`/`_24h` suffixes do not round-trip through snake→camel.
    const queueHealth = SqlSchema.findAll({
      Request: Schema.Void,
      Result: QueueHealth,
      execute: () =>
        RawSql.of(sql)`select tenant_id as "tenantId", queue, available, scheduled, retrying, running, paused,
                 oldest_available_age_s as "oldestAvailableAgeS", dead_lettered_24h as "deadLettered24h"
          from redrive.queue_health order by tenant_id, queue`
    })
    const failureStats = SqlSchema.findAll({
      Request: Schema.Void,
      Result: FailureStats,
      execute: () =>
        RawSql.of(sql)`select tenant_id as "tenantId", queue, type, error_class as "errorClass",
                 failures_1h as "failures1h", dead_lettered_1h as "deadLettered1h", recovered_1h as "recovered1h",
                 failures_24h as "failures24h", dead_lettered_24h as "deadLettered24h", recovered_24h as "recovered24h",
                 retry_success_rate_24h as "retrySuccessRate24h"
          from redrive.failure_stats order by tenant_id, queue, type, error_class`
    })
    // A row per minute, zeros included, so a chart's x axis has no gaps. The counters are summed
    // over a range of the bucket index first (joining the series to the table made the planner
    // scan all of failure_stat: 55 ms at 1,000,000 dead letters' counters, bench:console).
    const timeline = SqlSchema.findAll({
      Request: Schema.Struct({ minutes: Schema.Int, tenantId: Schema.NullOr(Schema.String) }),
      Result: TimelineBucket,
      execute: (r) =>
        RawSql.of(sql)`with since as (select date_trunc('minute', now()) - make_interval(mins => ${r.minutes} - 1) as at),
          per_minute as (
            select f.bucket, sum(f.failures) as failures, sum(f.dead_lettered) as dead_lettered, sum(f.recovered) as recovered
            from redrive.failure_stat f
            where f.bucket >= (select at from since)
              ${r.tenantId === null ? sql`` : sql`and f.tenant_id = ${r.tenantId}`}
            group by f.bucket),
          completed_per_minute as (
            select t.bucket, sum(t.completed) as completed
            from redrive.throughput_stat t
            where t.bucket >= (select at from since)
              ${r.tenantId === null ? sql`` : sql`and t.tenant_id = ${r.tenantId}`}
            group by t.bucket)
          select m.at, coalesce(c.completed, 0)::bigint as completed, coalesce(p.failures, 0)::int as failures, coalesce(p.dead_lettered, 0)::int as "deadLettered",
                 coalesce(p.recovered, 0)::int as recovered
          from generate_series((select at from since), date_trunc('minute', now()), interval '1 minute') as m(at)
          left join per_minute p on p.bucket = m.at
          left join completed_per_minute c on c.bucket = m.at
          order by m.at`
    })
    return {
      timeline: (r: TimelineRequest) =>
        timeline({ minutes: r.minutes, tenantId: r.tenantId ?? null }).pipe(
          Effect.mapError(fromSqlError("StatsRepo.timeline"))
        ),
      queueHealth: queueHealth(undefined).pipe(Effect.mapError(fromSqlError("StatsRepo.queueHealth"))),
      failureStats: failureStats(undefined).pipe(Effect.mapError(fromSqlError("StatsRepo.failureStats")))
    } as const
  })
}) {}
