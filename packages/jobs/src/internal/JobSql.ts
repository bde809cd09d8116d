/**
 * Every statement the job runtime sends for `redrive.job`, in one place. Each is one round
 * trip for a whole batch: rows travel as one jsonb or array parameter, never one query per job.
 * Hot statements run without the client's snake→camel result transform (it cost the worker
 * ~14 µs per claimed row) and alias their columns in camelCase instead.
 */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"
import * as Notify from "../Notify.js"
import { scopeControlled } from "./controlSql.js"
import { blockedCount, countFailures, movedStatRows, moveToDlq } from "./deadLetterSql.js"
import { appendHistory } from "./historySql.js"
import { nowMs } from "./nowMs.js"
import { RawSql } from "@redrive/database"

/**
 * The state a new job starts in: `paused` when a control row covers its tenant, queue or type
 * (an open circuit's type included, half-open too: only the breaker's probes run then).
 */
const initialState = (sql: SqlClient, tenantId: string, queue: string, type: string) =>
  sql`case when ${
    scopeControlled(sql, { tenantId, queue, type, blocking: false })
  } then 'paused' else 'available' end`

/** An enqueue whose idempotency key an unfinished job of the tenant and queue holds inserts nothing. */
const keyConflict = `on conflict (tenant_id, queue, idempotency_key)
        where idempotency_key is not null and state in ('available', 'paused', 'running')
        do nothing`

export interface InsertBatch {
  readonly tenantId: string
  readonly queue: string
  readonly type: string
  readonly priority: number
  readonly maxAttempts: number
  /** null: now() */
  readonly runAt: Date | null
  /** JSON text of the payload array */
  readonly payloads: string
  /** one per payload, or empty when no job has a key */
  readonly idempotencyKeys: ReadonlyArray<string | null>
  readonly requestId: string | null
  readonly userId: string | null
  /** The enqueuing span's traceparent (internal/traceContext.ts), or null. */
  readonly traceContext: string | null
}

/**
 * Inserts the batch; a job whose idempotency key matches an unfinished job of the same tenant
 * and queue is not inserted. Returns the inserted rows (id, key) and wakes the queue's workers.
 */
export const insertBatch = (sql: SqlClient, b: InsertBatch) =>
  RawSql.of(sql)<{ readonly id: string; readonly idempotencyKey: string | null }>`
    with input as (
      select e.payload, e.ord, k.key
      from jsonb_array_elements(${b.payloads}::jsonb) with ordinality as e(payload, ord)
      left join unnest(${b.idempotencyKeys}::text[]) with ordinality as k(key, ord) on k.ord = e.ord
    ), state as (
      select ${initialState(sql, b.tenantId, b.queue, b.type)} as s
    ), inserted as (
      insert into redrive.job (tenant_id, queue, type, payload, priority, max_attempts, run_at, state,
                               idempotency_key, request_id, user_id, trace_context)
      select ${b.tenantId}, ${b.queue}, ${b.type}, i.payload, ${b.priority}, ${b.maxAttempts},
             coalesce(${b.runAt}::timestamptz, ${sql.literal(nowMs)}), state.s, i.key, ${b.requestId}, ${b.userId},
             ${b.traceContext}::text
      from input i, state
      order by i.ord
      ${sql.literal(keyConflict)}
      returning id, idempotency_key
    ), woken as (
      select pg_notify(${Notify.channel}, ${b.queue})
      where exists (select 1 from inserted) and (select s from state) = 'available'
    )
    select id, idempotency_key as "idempotencyKey" from inserted
    where (select count(*) from woken) >= 0
    order by id`

/**
 * One job: `insertBatch` for a batch of one, as a plain VALUES insert (no JSON array to unpack,
 * no key array to join), with the wake-up in the statement's own select. Same result rows.
 */
export const insertOne = (sql: SqlClient, b: Omit<InsertBatch, "payloads" | "idempotencyKeys"> & {
  /** JSON text of the payload */
  readonly payload: string
  readonly idempotencyKey: string | null
}) =>
  RawSql.of(sql)<{ readonly id: string; readonly idempotencyKey: string | null }>`
    with inserted as (
      insert into redrive.job (tenant_id, queue, type, payload, priority, max_attempts, run_at, state,
                               idempotency_key, request_id, user_id, trace_context)
      values (${b.tenantId}, ${b.queue}, ${b.type}, ${b.payload}::jsonb, ${b.priority}, ${b.maxAttempts},
              coalesce(${b.runAt}::timestamptz, ${sql.literal(nowMs)}), ${initialState(sql, b.tenantId, b.queue, b.type)},
              ${b.idempotencyKey}::text, ${b.requestId}, ${b.userId}, ${b.traceContext}::text)
      ${sql.literal(keyConflict)}
      returning id, idempotency_key, state
    )
    select id, idempotency_key as "idempotencyKey",
           case when state = 'available' then pg_notify(${Notify.channel}, ${b.queue}) end as woken
    from inserted`

/** The unfinished jobs holding these keys (for duplicates of a key enqueued concurrently). */
export const findByIdempotencyKeys = (sql: SqlClient, tenantId: string, queue: string, keys: ReadonlyArray<string>) =>
  RawSql.of(sql)<{ readonly id: string; readonly idempotencyKey: string }>`
    select id, idempotency_key as "idempotencyKey" from redrive.job
    where tenant_id = ${tenantId} and queue = ${queue} and idempotency_key = any(${keys}::text[])
      and state in ('available', 'paused', 'running')`

export interface ClaimedRow {
  readonly id: string
  readonly tenantId: string
  readonly queue: string
  readonly type: string
  readonly payload: unknown
  readonly priority: number
  readonly attempt: number
  readonly maxAttempts: number
  /** Failures that waited without using an attempt (rate limits). */
  readonly freeWaits: number
  readonly replayOf: string | null
  /** The last tenant this claim served, in rotation order (the same on every row). */
  readonly lastServed: string | null
  /** The enqueuing span's traceparent: the run span continues its trace. */
  readonly traceContext: string | null
  /** How long the job waited past its run_at before this claim (ms). */
  readonly waitMs: number
}

/**
 * Claims up to `limit` due jobs of `queues` and `types`, fair across tenants, in one statement:
 * `redrive.claim_batch` (migration 0030, where the claim's SQL and its reasons live; 0033 makes it
 * commit without waiting for the WAL flush, and says why that loses nothing), a function so that its
 * plan is made once per connection.
 */
export const claimBatch = (
  sql: SqlClient,
  c: {
    readonly queues: ReadonlyArray<string>
    readonly types: ReadonlyArray<string>
    /** null: every tenant */
    readonly tenants: ReadonlyArray<string> | null
    readonly limit: number
    readonly workerId: string
    readonly leaseMs: number
    /** The last tenant the previous claim served (`lastServed`): this claim starts after it. */
    readonly after: string | null
  }
) =>
  RawSql.of(sql)<ClaimedRow>`
    select * from redrive.claim_batch(${c.queues}::text[], ${c.types}::text[], ${c.tenants}::text[],
      ${c.after ?? ""}::text, ${c.limit}::int, ${c.workerId}::text, ${c.leaseMs}::int)`

/** One failed (or waiting, snoozed, or discarded) attempt, as the settle statement takes it. */
export interface SettleFailure {
  readonly id: number
  readonly attempt: number
  /** wait: a failure that does not use its attempt (a rate limit's free wait) */
  readonly action: "retry" | "wait" | "snooze" | "discard" | "dead"
  /** retry, wait and snooze: when the job runs next (ISO) */
  readonly runAt: string | null
  /** the history entry, encoded */
  readonly entry: unknown
  readonly errorClass: string
  readonly reason: string
}

/**
 * Settles a batch in one statement: deletes (or, under a retention, completes) the successes,
 * reschedules retries, free waits and snoozes (the last two give the attempt back; a wait counts
 * in free_waits), cancels discards, moves dead letters to job_dlq with their capped history,
 * counts failures (retries, waits, dead letters: not snoozes or discards, which are decisions),
 * dead letters and recoveries per minute in failure_stat, and writes the `job.dead_lettered`
 * alert outbox rows (the dead-letter path is shared with the rescuer: deadLetterSql.ts). Only
 * rows this worker still leases are touched: a job rescued from under a slow worker is not
 * settled twice.
 */
export const settleBatch = (
  sql: SqlClient,
  s: {
    readonly workerId: string
    readonly done: ReadonlyArray<number>
    readonly keepCompleted: boolean
    readonly failures: ReadonlyArray<SettleFailure>
    readonly historyCap: number
  }
) => {
  // Only the parts this batch needs: a batch of retries plans and runs no dead-letter move, a
  // batch of successes no failure at all (planning the whole statement took longer than running
  // it: 3–8 ms a batch).
  const actions = new Set(s.failures.map((f) => f.action))
  const hasDone = s.done.length > 0
  const reschedule = actions.has("retry") || actions.has("wait") || actions.has("snooze")
  const discard = actions.has("discard")
  const dead = actions.has("dead")
  const ctes: Array<Statement.Fragment> = [sql`cap as (select ${s.historyCap}::int as n)`]
  const statRows: Array<Statement.Fragment> = []
  if (s.failures.length > 0) {
    ctes.push(sql`f as (
      select id, attempt, action, "runAt" as run_at, entry, "errorClass" as error_class, reason
      from jsonb_to_recordset(${JSON.stringify(s.failures)}::jsonb) as f(
        id bigint, attempt int, action text, "runAt" timestamptz, entry jsonb, "errorClass" text, reason text)
    )`)
  }
  if (hasDone) {
    ctes.push(sql`done as (
      ${finishDone(sql, s)}
      returning j.id, j.priority, j.tenant_id, j.queue, j.type, j.attempt, j.free_waits, j.replay_of, j.error_history
    )`)
    // recovered: a success after failures (waited ones too), or a replayed dead letter that now succeeds
    statRows.push(sql`select tenant_id, queue, type, ${lastFailureClass(sql)} as error_class, 0 as failed, 0 as dead,
          1 as recovered from done where (attempt > 1 or free_waits > 0 or replay_of is not null)
            and jsonb_array_length(error_history) > 0`)
    ctes.push(recoveredAlerts(sql))
  }
  if (reschedule) {
    ctes.push(sql`rescheduled as (
      update redrive.job j
      -- A retry waits as 'paused' while a control covers its scope or type: an open circuit's jobs
      -- keep their attempts, and a failed probe of a half-open one does not run again. Without
      -- any control row (the usual case) the per-row test is skipped: the first one runs once.
      set state = case when (select exists (select 1 from redrive.control)) and ${
      scopeControlled(sql, {
        tenantId: sql.literal("j.tenant_id"),
        queue: sql.literal("j.queue"),
        type: sql.literal("j.type"),
        blocking: false
      })
    } then 'paused' else 'available' end,
          run_at = f.run_at, locked_by = null, locked_until = null, heartbeat_at = null,
          updated_at = now(),
          attempt = case when f.action in ('snooze', 'wait') then j.attempt - 1 else j.attempt end,
          free_waits = j.free_waits + (f.action = 'wait')::int,
          error_history = ${appendHistory(sql, sql.literal("j.error_history"), sql.literal("f.entry"), sql.literal("cap.n"))}
      from f, cap
      where j.id = f.id and f.action in ('retry', 'wait', 'snooze') and j.attempt = f.attempt
        and j.state = 'running' and j.locked_by = ${s.workerId}
      returning j.tenant_id, j.queue, j.type, f.error_class, f.action
    )`)
    statRows.push(sql`select tenant_id, queue, type, error_class, (action <> 'snooze')::int as failed, 0 as dead,
          0 as recovered from rescheduled`)
  }
  if (discard) {
    ctes.push(sql`discarded as (
      update redrive.job j
      set state = 'cancelled', completed_at = now(), updated_at = now(), locked_by = null, locked_until = null,
          error_history = ${appendHistory(sql, sql.literal("j.error_history"), sql.literal("f.entry"), sql.literal("cap.n"))}
      from f, cap
      where j.id = f.id and f.action = 'discard' and j.attempt = f.attempt
        and j.state = 'running' and j.locked_by = ${s.workerId}
      returning j.tenant_id, j.queue, j.type, f.error_class, f.action
    )`)
  }
  if (dead) {
    ctes.push(
      sql`dying as (
      select j.*, f.entry as e, f.error_class, f.reason
      from redrive.job j join f on j.id = f.id
      where f.action = 'dead' and j.attempt = f.attempt
        and j.state = 'running' and j.locked_by = ${s.workerId}
      for update of j
    )`,
      moveToDlq(sql, sql.literal("(select n from cap)"))
    )
    statRows.push(movedStatRows(sql))
  }
  if (statRows.length > 0) {
    ctes.push(countFailures(sql, sql.join(" union all ", false)(statRows)))
  }
  const count = (present: boolean, cte: string) => present ? sql.literal(`(select count(*) from ${cte})::int`) : sql.literal("0")
  return RawSql.of(sql)<{
    readonly completed: number
    readonly retried: number
    readonly deadLettered: number
    readonly discarded: number
    readonly blocked: number
  }>`
    with ${sql.join(", ", false)(ctes)}
    select ${count(hasDone, "done")} as completed,
           ${count(reschedule, "rescheduled")} as retried,
           ${count(dead, "moved")} as "deadLettered",
           ${count(discard, "discarded")} as discarded,
           ${dead ? blockedCount(sql) : sql.literal("0")} as blocked,
           ${count(statRows.length > 0, "stats")} + ${count(dead, "dlq_alerts")}
             + ${count(hasDone, "recovered_alerts")} as _side_effects`
}

/**
 * CTE `recovered_alerts`: `job.recovered` outbox rows for the jobs of `done` that succeeded after
 * failing, for the channels that named the event (success events are opt-in: an empty `events`
 * does not include them). Set-based, in the settle statement; a batch without such a job joins nothing.
 */
const recoveredAlerts = (sql: SqlClient) =>
  sql`recovered_alerts as (
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, coalesce_key)
      select ch.id, r.tenant_id, 'job.recovered',
             jsonb_build_object('jobId', r.id, 'tenantId', r.tenant_id, 'queue', r.queue, 'type', r.type,
                                'attempts', r.attempt, 'errorClass', r.error_class, 'replayOf', r.replay_of),
             'job.recovered:' || r.tenant_id || ':' || r.queue
      from (select d.*, ${lastFailureClass(sql)} as error_class from done d
            where (d.attempt > 1 or d.free_waits > 0 or d.replay_of is not null)
              and jsonb_array_length(d.error_history) > 0) r
      join redrive.alert_channel ch on ch.enabled and 'job.recovered' = any(ch.events)
        and (ch.tenant_id is null or ch.tenant_id = r.tenant_id)
        and r.priority <= ch.min_priority
        and (cardinality(ch.error_classes) = 0 or r.error_class = any(ch.error_classes))
      returning 1
    )`

/**
 * The class of a finished job's last failure, for its `recovered` count: the newest history entry
 * that is not a snooze (a decision, not a failure). The newest entry, in the common case.
 */
const lastFailureClass = (sql: SqlClient) =>
  sql`case when error_history -> -1 ->> 'kind' <> 'snoozed' then error_history -> -1 ->> 'errorClass'
      else (select e ->> 'errorClass' from jsonb_array_elements(error_history) with ordinality as h(e, i)
            where e ->> 'kind' not in ('snoozed', 'dropped') order by i desc limit 1) end`

/** The fast path of settle: every job succeeded at once and was no replay (nothing to count in failure_stat). */
export const completeBatch = (
  sql: SqlClient,
  s: { readonly workerId: string; readonly done: ReadonlyArray<number>; readonly keepCompleted: boolean }
) => RawSql.of(sql)`${finishDone(sql, s)}`

/**
 * Finishes the successes this worker still leases: deleted, or kept as 'completed' under a
 * retention. Alone (completeBatch) or as the settle statement's `done`.
 */
const finishDone = (
  sql: SqlClient,
  s: { readonly workerId: string; readonly done: ReadonlyArray<number>; readonly keepCompleted: boolean }
) =>
  s.keepCompleted
    ? sql`update redrive.job j set state = 'completed', completed_at = now(), updated_at = now(),
          locked_by = null, locked_until = null
        where j.id = any(${s.done}::bigint[]) and j.state = 'running' and j.locked_by = ${s.workerId}`
    : sql`delete from redrive.job j
        where j.id = any(${s.done}::bigint[]) and j.state = 'running' and j.locked_by = ${s.workerId}`

/** Puts leased jobs back without using up their attempt (shutdown, or a handler interrupted). */
export const releaseBatch = (sql: SqlClient, workerId: string, ids: ReadonlyArray<number>) =>
  sql`with released as (
        update redrive.job set state = 'available', attempt = attempt - 1, run_at = ${sql.literal(nowMs)}, locked_by = null,
          locked_until = null, heartbeat_at = null, updated_at = now()
        where id = any(${ids}::bigint[]) and state = 'running' and locked_by = ${workerId}
        returning queue
      )
      select pg_notify(${Notify.channel}, q) from (select distinct queue as q from released) r`

/** Extends the leases of this worker's running jobs (and records the heartbeat). */
export const extendLeases = (sql: SqlClient, workerId: string, ids: ReadonlyArray<number>, leaseMs: number) =>
  RawSql.of(sql)`update redrive.job set locked_until = now() + ${leaseMs} * interval '1 millisecond', heartbeat_at = now()
      where id = any(${ids}::bigint[]) and state = 'running' and locked_by = ${workerId}`

/**
 * Rescues running jobs whose lease expired (their worker died or stalled): back to available
 * with a `rescued` history entry (counted as a `timeout` failure), or to job_dlq as `timeout`
 * when their attempts are used up, by the same dead-letter path as settle.
 */
export const rescueExpired = (sql: SqlClient, r: { readonly limit: number; readonly historyCap: number }) =>
  RawSql.of(sql)<{ readonly rescued: number; readonly deadLettered: number; readonly blocked: number }>`
    with cap as (
      select ${r.historyCap}::int as n
    ), expired as (
      select id from redrive.job
      where state = 'running' and locked_until < now()
      order by locked_until
      limit ${r.limit}
      for update skip locked
    ), entry as (
      -- One message for every lease that expired, so they group under one fingerprint; the
      -- worker that held the job is in workerId.
      select j.id, jsonb_build_object(
        'attempt', j.attempt, 'at', redrive.iso_ms(now()), 'kind', 'rescued', 'errorClass', 'timeout',
        'tag', 'LeaseExpired', 'message', 'lease expired: the worker stopped or stalled without settling the job',
        'workerId', coalesce(j.locked_by, 'unknown')) as e
      from redrive.job j join expired x on x.id = j.id
    ), back as (
      update redrive.job j
      set state = 'available', run_at = ${sql.literal(nowMs)}, locked_by = null, locked_until = null, heartbeat_at = null,
          updated_at = now(),
          error_history = ${appendHistory(sql, sql.literal("j.error_history"), sql.literal("entry.e"), sql.literal("cap.n"))}
      from entry, cap
      where j.id = entry.id and j.attempt < j.max_attempts
      returning j.tenant_id, j.queue, j.type
    ), dying as (
      select j.*, entry.e, 'timeout'::text as error_class, entry.e ->> 'message' as reason
      from redrive.job j join entry on j.id = entry.id
      where j.attempt >= j.max_attempts
      for update of j
    ), ${moveToDlq(sql, sql.literal("(select n from cap)"))}, ${
    countFailures(
      sql,
      sql`select tenant_id, queue, type, 'timeout' as error_class, 1 as failed, 0 as dead, 0 as recovered from back
          union all ${movedStatRows(sql)}`
    )
  }, woken as (
      select pg_notify(${Notify.channel}, q) from (select distinct queue as q from back) b
    )
    select (select count(*) from back)::int as rescued, (select count(*) from moved)::int as "deadLettered",
           ${blockedCount(sql)} as blocked,
           (select count(*) from woken)::int + (select count(*) from stats)::int
             + (select count(*) from dlq_alerts)::int as _side_effects`

/**
 * `target` locks the row and reads its newest version, so the outcome is decided on the state
 * a concurrent claim may just have written; the row comes back either cancelled (`changed`)
 * or as it was.
 */
export const cancelJob = (
  sql: SqlClient,
  c: { readonly id: number; readonly by: string; readonly message: string; readonly cap: number }
) => {
  const entry = sql`jsonb_build_object(
    'attempt', j.attempt, 'at', redrive.iso_ms(now()), 'kind', 'discarded', 'errorClass', 'cancelled',
    'tag', 'Cancelled', 'message', ${c.message}::text, 'by', ${c.by}::text)`
  return sql`
    with target as (
      select * from redrive.job where id = ${c.id} for update
    ), cancelled as (
      update redrive.job j
      set state = 'cancelled', completed_at = now(), updated_at = now(),
          error_history = ${appendHistory(sql, sql.literal("j.error_history"), entry, sql`${c.cap}::int`)}
      from target t
      where j.id = t.id and j.state in ('available', 'paused')
      returning j.*
    )
    select true as changed, c.* from cancelled c
    union all
    select false as changed, t.* from target t where t.state not in ('available', 'paused')`
}

/**
 * Brings a scheduled job's run_at forward to now (truncated to the column's milliseconds so the
 * next claim sees it due) and wakes its queue when it is available.
 */
export const retryJobNow = (sql: SqlClient, r: { readonly id: number; readonly channel: string }) =>
  sql`
    with target as (
      select * from redrive.job where id = ${r.id} for update
    ), moved as (
      update redrive.job j set run_at = ${sql.literal(nowMs)}, updated_at = now()
      from target t
      where j.id = t.id and j.state in ('available', 'paused') and j.run_at > now()
      returning j.*
    ), result as (
      select true as changed, m.* from moved m
      union all
      select false as changed, t.* from target t where not exists (select 1 from moved)
    ), woken as (
      select pg_notify(${r.channel}, queue) from result where state = 'available'
    )
    select * from result where (select count(*) from woken) >= 0`
