/**
 * The statement of JobCommands.rerun: a completed (kept) or cancelled job becomes a new job, in one
 * round trip — the source is locked, the request key looked up, the new job inserted with its
 * lineage (`rerun_of`) and a `replayed` history entry, the key recorded and the queue notified.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type { Ids } from "@redrive/database"
import { scopeControlled } from "./controlSql.js"
import { appendHistory } from "./historySql.js"
import { nowMs } from "./nowMs.js"

type Sql = SqlClient

export interface RerunRow {
  /** The job's state; null when no such job (of the caller's tenant) exists. */
  readonly state: string | null
  /** The job this request key made (now, or by an earlier call). */
  readonly jobId: string | null
  /** The source job the request key was first used with (when it existed before this call). */
  readonly keySource: string | null
  readonly created: boolean
}

/**
 * Reruns job `id` unless the request key exists already for its tenant; nothing is inserted when the
 * job is not completed or cancelled (the caller reads its state from the row). Two calls with the
 * same key at once: the source's row lock queues the second behind the first; the second, whose
 * snapshot missed the first's key, fails on the key's primary key and is retried once by the caller,
 * which then finds the key. Nothing of the failed statement remains (one statement, one transaction).
 */
export const rerun = (sql: Sql, input: {
  readonly id: Ids.JobId
  /** The caller's tenant (run on the runtime's connection, nothing else pins it); null: every tenant. */
  readonly tenantId: Ids.TenantId | null
  readonly requestKey: string
  readonly by: string
  readonly payloadJson: string | null
  readonly cap: number
  readonly channel: string
}) => {
  const entry = sql`jsonb_build_object(
        'attempt', s.attempt, 'at', redrive.iso_ms(${sql.literal(nowMs)}), 'kind', 'replayed',
        'errorClass', s.state, 'tag', 'Rerun', 'message', 'rerun of job ' || s.id || ' by ' || ${input.by}::text,
        'by', ${input.by}::text)`
  return sql<RerunRow>`
    with src as (
      select id, tenant_id, queue, type, payload, priority, max_attempts, attempt, state, error_history,
             request_id, user_id
      from redrive.job
      where id = ${input.id} ${input.tenantId === null ? sql`` : sql`and tenant_id = ${input.tenantId}`}
      for update
    ), existing as (
      -- By the job's tenant, or the caller's when the job is gone (pruned since the first call).
      select r.job_id, r.source_job_id
      from redrive.job_rerun r
      where r.request_key = ${input.requestKey}
        and r.tenant_id = coalesce((select tenant_id from src), ${input.tenantId}::text)
    ), inserted as (
      insert into redrive.job (tenant_id, queue, type, payload, priority, state, attempt, max_attempts, run_at,
        error_history, rerun_of, request_id, user_id)
      select s.tenant_id, s.queue, s.type, coalesce(${input.payloadJson}::jsonb, s.payload), s.priority,
        -- Like enqueue: into a paused or draining scope (or a paused type), the job waits as 'paused'.
        case when ${
    scopeControlled(sql, {
      tenantId: sql.literal("s.tenant_id"),
      queue: sql.literal("s.queue"),
      type: sql.literal("s.type"),
      blocking: false
    })
  } then 'paused' else 'available' end, 0,
        s.max_attempts, ${sql.literal(nowMs)}, ${appendHistory(sql, sql.literal("s.error_history"), entry, sql`${input.cap}::int`)},
        s.id, s.request_id, s.user_id
      from src s
      where s.state in ('completed', 'cancelled') and not exists (select 1 from existing)
      returning id, tenant_id, rerun_of, queue
    ), keyed as (
      insert into redrive.job_rerun (tenant_id, request_key, source_job_id, job_id, requested_by)
      select i.tenant_id, ${input.requestKey}, i.rerun_of, i.id, ${input.by} from inserted i
      returning job_id
    ), notified as (
      select pg_notify(${input.channel}, queue) from inserted
    )
    select s.state, coalesce(i.id, e.job_id) as job_id, e.source_job_id as key_source, i.id is not null as created,
           (select count(*) from keyed) as keyed, (select count(*) from notified) as notified
    from (select 1) one
    left join src s on true
    left join inserted i on true
    left join existing e on true`
}
