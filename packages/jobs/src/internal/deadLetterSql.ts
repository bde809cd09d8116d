/**
 * The one way a job enters `redrive.job_dlq`, shared by every statement that dead-letters
 * (the worker's settle, the rescuer): the same columns, the same capped history, the same
 * fingerprint function (`redrive.fingerprint`), the same `job.dead_lettered` alert outbox rows
 * and the same failure_stat counters.
 */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { appendHistory } from "./historySql.js"

/**
 * CTEs `moved` (the new dead letters), `dead` (their jobs, deleted), `blocked` (jobs whose dead
 * letter could not be written), `dlq_alerts` (the outbox rows of `moved`), to follow a CTE named
 * `dying` holding the job rows to dead-letter, locked (`select j.* … for update of j`), plus `e`
 * (the final history entry, jsonb), `error_class` and `reason`. `cap` is the history cap.
 *
 * The dead letter is written first and only jobs whose insert succeeded are deleted. An existing
 * (tenant, job_id) row (a rescuer and a worker racing, or a row the tenant wrote itself) makes the
 * insert do nothing: that job is never deleted silently, it stays in `job` as
 * 'dead_letter_conflict' with its final history entry, out of claim and rescue, and the statement
 * counts it in `blocked` for the caller to log.
 */
export const moveToDlq = (sql: SqlClient, cap: Statement.Fragment) =>
  sql`moved as (
      insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
        error_reason, attempts, error_history, fingerprint, first_failed_at, dlq_at, replay_of, request_id, user_id,
        trace_context)
      select d.id, d.tenant_id, d.queue, d.type, d.payload, d.priority, d.max_attempts, d.error_class,
        left(d.reason, 2000), d.attempt, ${appendHistory(sql, sql.literal("d.error_history"), sql.literal("d.e"), cap)},
        redrive.fingerprint(d.type, d.error_class, d.e ->> 'tag', d.e ->> 'message'),
        coalesce((d.error_history -> 0 ->> 'at')::timestamptz, (d.e ->> 'at')::timestamptz, now()), now(),
        d.replay_of, d.request_id, d.user_id, d.trace_context
      from dying d
      on conflict (tenant_id, job_id) do nothing
      returning id, job_id, tenant_id, queue, type, priority, error_class, error_reason, fingerprint, attempts
    ), dead as (
      delete from redrive.job j
      where j.id = any(array(select job_id from moved))
      returning j.id
    ), blocked as (
      update redrive.job j
      set state = 'dead_letter_conflict', locked_by = null, locked_until = null, heartbeat_at = null,
          updated_at = now(), error_history = ${appendHistory(sql, sql.literal("j.error_history"), sql.literal("d.e"), cap)}
      from dying d
      where j.id = d.id and d.id <> all(array(select job_id from moved))
      returning j.id, j.tenant_id, j.queue, j.type, d.error_class
    ), dlq_alerts as (
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, coalesce_key)
      select ch.id, m.tenant_id, 'job.dead_lettered',
             jsonb_build_object('dlqId', m.id, 'jobId', m.job_id, 'tenantId', m.tenant_id, 'queue', m.queue,
                                'type', m.type, 'errorClass', m.error_class, 'reason', m.error_reason,
                                'fingerprint', m.fingerprint, 'attempts', m.attempts),
             'job.dead_lettered:' || m.tenant_id || ':' || m.queue
      from moved m
      join redrive.alert_channel ch on ch.enabled
        and (ch.tenant_id is null or ch.tenant_id = m.tenant_id)
        and (cardinality(ch.events) = 0 or 'job.dead_lettered' = any(ch.events))
        and m.priority <= ch.min_priority
        and (cardinality(ch.error_classes) = 0 or m.error_class = any(ch.error_classes))
      where not redrive.group_muted(m.type, m.error_class, m.fingerprint, m.tenant_id)
      returning 1
    )`

/** How many jobs `moveToDlq` could not dead-letter (and so kept): to be logged by the caller. */
export const blockedCount = (sql: SqlClient) =>
  sql`(select count(*) from blocked)::int`

/** The loud half of a blocked move: the jobs are kept, but somebody must look at them. */
export const logDeadLetterConflict = (count: number) =>
  Effect.logError(
    `redrive: ${count} job(s) could not be dead-lettered because job_dlq already holds a dead letter for their ` +
      `(tenant, job id); they are kept in redrive.job with state 'dead_letter_conflict'`
  ).pipe(Effect.annotateLogs({ blocked: count }))

/**
 * failure_stat rows (tenant, queue, type, class, failed, dead, recovered) for the jobs in `moved`,
 * and for those in `blocked` (a failure, but no dead letter).
 */
export const movedStatRows = (sql: SqlClient) =>
  sql`select tenant_id, queue, type, error_class, 1 as failed, 1 as dead, 0 as recovered from moved
      union all select tenant_id, queue, type, error_class, 1, 0, 0 from blocked`

/**
 * A CTE `stats` adding `rows` (a select of tenant_id, queue, type, error_class, failed, dead,
 * recovered) to the per-minute failure_stat counters.
 */
export const countFailures = (sql: SqlClient, rows: Statement.Fragment) =>
  sql`stats as (
      insert into redrive.failure_stat as fs (tenant_id, queue, type, error_class, bucket, failures, dead_lettered,
                                              recovered)
      select tenant_id, queue, type, coalesce(error_class, 'unknown'), date_trunc('minute', now()),
             sum(failed), sum(dead), sum(recovered)
      from (${rows}) r
      group by 1, 2, 3, 4
      having sum(failed) + sum(dead) + sum(recovered) > 0
      -- a fixed order, so two statements never lock the same counters in opposite orders
      order by 1, 2, 3, 4
      on conflict (tenant_id, queue, type, error_class, bucket) do update
        set failures = fs.failures + excluded.failures, dead_lettered = fs.dead_lettered + excluded.dead_lettered,
            recovered = fs.recovered + excluded.recovered
      returning 1
    )`
