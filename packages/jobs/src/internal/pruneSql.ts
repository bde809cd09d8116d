/**
 * The statements of the pruner (Pruner.ts): each deletes at most `limit` rows past their retention
 * and returns how many it deleted. A batch picks its rows by the retention index of its table and
 * locks them `skip locked` (a row a replay, a rerun or a settle holds is left for the next pass),
 * then deletes them by `ctid` — one short statement, in its own transaction.
 */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"

type Sql = SqlClient

/** `now() - ms`: the cutoff, on the database's clock. */
export const cutoff = (sql: Sql, ms: number) => sql`(now() - ${ms}::bigint * interval '1 millisecond')`

/** Deletes up to `limit` rows of `redrive.<table>` matching `where`. */
const batch = (sql: Sql, table: string, where: Statement.Fragment, limit: number) =>
  sql<{ readonly deleted: number }>`
    with picked as (
      select ctid from ${sql(`redrive.${table}`)} t
      where ${where}
      limit ${limit}::int
      for update skip locked
    ), deleted as (
      delete from ${sql(`redrive.${table}`)} t
      where t.ctid = any(array(select ctid from picked)) and ${where}
      returning 1
    )
    select count(*)::int as deleted from deleted`

/** Completed (kept under `keepCompleted`) or cancelled jobs, by the time they finished (job_finished_idx). */
export const finishedJobs = (sql: Sql, state: "completed" | "cancelled", ms: number, limit: number) =>
  batch(sql, "job", sql`t.state = ${state} and t.completed_at < ${cutoff(sql, ms)}`, limit)

/**
 * Replayed dead letters, by the time they were replayed (job_dlq_replayed_idx). One whose replay job
 * is still unfinished (or kept) stays, so a live job can be traced to its dead letter; `replay_of`
 * has no foreign key, so a pruned dead letter leaves its job's lineage id as it was.
 */
export const replayedDeadLetters = (sql: Sql, ms: number, limit: number) =>
  batch(
    sql,
    "job_dlq",
    sql`t.replayed_at < ${cutoff(sql, ms)}
        and not exists (select 1 from redrive.job j where j.id = t.replay_job_id)`,
    limit
  )

/**
 * A pending or running bulk replay may still replay the dead letter `t`: one in the request's
 * tenant (or any, for a `*` request) up to its snapshot (`max_dlq_id`), whether it matches the
 * filter or not. Such dead letters are never deleted (by the pruner or a purge).
 */
export const heldByBulkReplay = (sql: Sql) =>
  sql`exists (
        select 1 from redrive.replay_request r
        where r.state in ('pending', 'running') and t.id <= r.max_dlq_id and r.tenant_id in (t.tenant_id, '*'))`

/**
 * Dead letters never replayed, by the time they were dead-lettered (job_dlq_pending_all_idx). A dead
 * letter a pending or running bulk replay may still replay stays: one in the request's tenant (or
 * any, for a `*` request) up to its snapshot (`max_dlq_id`) — whether it matches the filter or not,
 * which keeps a few more rows for the length of a request and never loses one it would replay.
 */
export const deadLetters = (sql: Sql, ms: number, limit: number) =>
  batch(
    sql,
    "job_dlq",
    sql`t.replayed_at is null and t.dlq_at < ${cutoff(sql, ms)} and not ${heldByBulkReplay(sql)}`,
    limit
  )

/** Delivered and failed alert deliveries, by creation (alert_delivery_created_idx); pending ones are never pruned. */
export const alertDeliveries = (sql: Sql, ms: number, limit: number) =>
  batch(sql, "alert_delivery", sql`t.state in ('delivered', 'failed') and t.created_at < ${cutoff(sql, ms)}`, limit)

/** The audit trail of controls (control_event_at_idx). */
export const controlEvents = (sql: Sql, ms: number, limit: number) =>
  batch(sql, "control_event", sql`t.at < ${cutoff(sql, ms)}`, limit)

/** Finished bulk replay requests, by the time they finished (replay_request_finished_idx, 0021). */
export const replayRequests = (sql: Sql, ms: number, limit: number) =>
  batch(
    sql,
    "replay_request",
    sql`t.state in ('done', 'cancelled', 'failed') and t.finished_at < ${cutoff(sql, ms)}`,
    limit
  )

/** Rerun keys (job_rerun_created_idx, 0021): past it, the same request key reruns the job again. */
export const jobReruns = (sql: Sql, ms: number, limit: number) =>
  batch(sql, "job_rerun", sql`t.created_at < ${cutoff(sql, ms)}`, limit)

/** Per-minute failure counters (failure_stat_bucket_idx). */
export const failureStats = (sql: Sql, ms: number, limit: number) =>
  batch(sql, "failure_stat", sql`t.bucket < ${cutoff(sql, ms)}`, limit)

/** Per-minute completed counts (throughput_stat_bucket_idx). */
export const throughputStats = (sql: Sql, ms: number, limit: number) =>
  batch(sql, "throughput_stat", sql`t.bucket < ${cutoff(sql, ms)}`, limit)

/**
 * Circuit-breaker counts past every circuit's window (the breaker prunes them on its own passes too;
 * this covers a deployment that runs the breaker nowhere while workers still flush counts).
 */
export const circuitCounts = (sql: Sql, limit: number) =>
  batch(
    sql,
    "circuit_count",
    sql`t.bucket < now() - interval '1 minute'
        - greatest(coalesce((select max(window_ms) from redrive.circuit), 0), 60000) * interval '1 millisecond'`,
    limit
  )

/** Whether @effect/cluster's message tables (SqlMessageStorage, `<prefix>_messages`/`_replies`) exist. */
export const clusterTablesExist = (sql: Sql, prefix: string) =>
  sql<{ readonly exists: boolean }>`
    select to_regclass(${`${prefix}_messages`}) is not null and to_regclass(${`${prefix}_replies`}) is not null
      as exists`

/** Milliseconds of the Snowflake epoch of @effect/cluster (Snowflake.constEpochMillis: 2025-01-01). */
const snowflakeEpochMs = Date.UTC(2025, 0, 1)

/**
 * Processed requests of @effect/cluster (a reply with its exit is stored) older than the cutoff,
 * with their replies and their ack/interrupt messages. Message ids are Snowflakes (milliseconds
 * since 2025 shifted left 22 bits), so age is a range of the primary key. Unprocessed messages are
 * never touched: the cluster still has to deliver them. Returns the requests deleted.
 */
export const clusterMessages = (sql: Sql, prefix: string, ms: number, limit: number) => {
  const messages = sql(`${prefix}_messages`)
  const replies = sql(`${prefix}_replies`)
  return sql<{ readonly deleted: number }>`
    with picked as (
      select id from ${messages}
      where kind = 0 and processed
        and id < (((extract(epoch from now()) * 1000)::bigint - ${ms}::bigint - ${snowflakeEpochMs}::bigint) << 22)
      order by id
      limit ${limit}::int
      for update skip locked
    ), replies as (
      delete from ${replies} where request_id in (select id from picked) returning 1
    ), others as (
      delete from ${messages} where request_id in (select id from picked) and kind <> 0 returning 1
    ), requests as (
      delete from ${messages} where id in (select id from picked) returning 1
    )
    select (select count(*) from requests)::int as deleted,
           (select count(*) from replies) + (select count(*) from others) as dependents`
}
