/**
 * What the demo reads from (and the one thing it deletes in) the database. Every statement is
 * limited to the demo tenant: DATABASE_URL may point at a database with real tenants in it.
 */
import { SqlClient } from "@effect/sql"
import { ErrorHistory } from "@redrive/database"
import { Effect, Schema } from "effect"
import { NotifyPartner, tenant } from "./definitions.js"

/**
 * Forgets the previous run: the demo tenant's jobs, dead letters, counters and replay requests,
 * and the circuit of the demo's own partner type (its counts, control row and audit trail).
 */
export const resetTenant = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const type = NotifyPartner.name
  yield* sql.withTransaction(Effect.all([
    sql`delete from redrive.job where tenant_id = ${tenant}`,
    sql`delete from redrive.job_dlq where tenant_id = ${tenant}`,
    sql`delete from redrive.failure_stat where tenant_id = ${tenant}`,
    sql`delete from redrive.replay_request where tenant_id = ${tenant}`,
    sql`delete from redrive.circuit where type = ${type}`,
    sql`delete from redrive.circuit_count where type = ${type}`,
    sql`delete from redrive.control where type = ${type}`,
    sql`delete from redrive.control_event where type = ${type}`,
    // The operator step's scope, its audit trail and its alert channel.
    sql`delete from redrive.control where tenant_id = ${tenant}`,
    sql`delete from redrive.control_event where tenant_id = ${tenant}`,
    sql`delete from redrive.alert_channel where tenant_id = ${tenant}`
  ], { discard: true }))
})

export interface TypeJobs {
  readonly completed: number
  readonly paused: number
  readonly available: number
  readonly running: number
  readonly deadLettered: number
  /** Attempts used by the type's jobs, all of them (a completed job's attempt is its last). */
  readonly attempts: number
  /** The most attempts any one job used. */
  readonly maxAttempt: number
}

/** The demo tenant's jobs of one type, by state, and the attempts they used. */
export const typeJobs = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<TypeJobs>`
        select count(*) filter (where state = 'completed')::int as completed,
               count(*) filter (where state = 'paused')::int as paused,
               count(*) filter (where state = 'available')::int as available,
               count(*) filter (where state = 'running')::int as running,
               (select count(*)::int from redrive.job_dlq where tenant_id = ${tenant} and type = ${type}) as dead_lettered,
               coalesce(sum(attempt), 0)::int as attempts, coalesce(max(attempt), 0)::int as max_attempt
        from redrive.job where tenant_id = ${tenant} and type = ${type}`,
      (rows) => rows[0] ?? { completed: 0, paused: 0, available: 0, running: 0, deadLettered: 0, attempts: 0, maxAttempt: 0 }
    ))

export interface BatchJobs {
  readonly completed: number
  readonly waiting: number
  readonly running: number
}

/** The demo tenant's jobs of one type enqueued by the operator step, told apart by a payload tag. */
export const batchJobs = (type: string, batch: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<BatchJobs>`
        select count(*) filter (where state = 'completed')::int as completed,
               count(*) filter (where state in ('paused', 'available'))::int as waiting,
               count(*) filter (where state = 'running')::int as running
        from redrive.job where tenant_id = ${tenant} and type = ${type} and idempotency_key like ${batch + ":%"}`,
      (rows) => rows[0] ?? { completed: 0, waiting: 0, running: 0 }
    ))

/** How many of the type's jobs completed on their 1st, 2nd, … attempt. */
export const attemptsOfCompleted = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ attempt: number; jobs: number }>`
      select attempt, count(*)::int as jobs from redrive.job
      where tenant_id = ${tenant} and type = ${type} and state = 'completed'
      group by attempt order by attempt`)

export interface AuditEntry {
  readonly at: Date
  readonly action: string
  readonly previousState: string | null
  readonly reason: string | null
  readonly actor: string
}

/** The audit trail of a type's own control row (tenant `*`, queue `*`). */
export const typeAudit = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<AuditEntry>`
      select at, action, previous_state, reason, actor from redrive.control_event
      where tenant_id = '*' and queue = '*' and type = ${type}
      order by id`)

export interface Progress {
  readonly completed: number
  readonly waiting: number
  readonly running: number
  readonly retrying: number
  readonly deadLettered: number
}

/** Live counts; completed jobs are kept (the worker runs with keepCompleted) so they can be counted. */
export const progress = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<Progress>`
    select count(*) filter (where state = 'completed')::int as completed,
           count(*) filter (where state = 'available' and attempt = 0)::int as waiting,
           count(*) filter (where state = 'running')::int as running,
           count(*) filter (where state = 'available' and attempt > 0)::int as retrying,
           (select count(*)::int from redrive.job_dlq where tenant_id = ${tenant} and replayed_at is null)
             as dead_lettered
    from redrive.job where tenant_id = ${tenant}`
  return row ?? { completed: 0, waiting: 0, running: 0, retrying: 0, deadLettered: 0 }
})

export interface DlqGroup {
  readonly errorClass: string
  readonly fingerprint: string
  readonly type: string
  readonly count: number
  readonly sample: string
}

/** Unreplayed dead letters grouped by class and fingerprint, biggest group first. */
export const dlqGroups = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<DlqGroup>`
    select error_class, fingerprint, type, count(*)::int as count, (array_agg(error_reason order by id))[1] as sample
    from redrive.job_dlq
    where tenant_id = ${tenant} and replayed_at is null
    group by error_class, fingerprint, type
    order by count desc, type, error_class`)

const DeadLetter = Schema.Struct({
  id: Schema.NumberFromString,
  jobId: Schema.NumberFromString,
  payload: Schema.Unknown,
  attempts: Schema.Int,
  errorHistory: ErrorHistory.ErrorHistory
})
export type DeadLetter = typeof DeadLetter.Type

/** The oldest unreplayed dead letter of a type, with its decoded history. */
export const firstDeadLetter = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`
      select id, job_id, payload, attempts, error_history from redrive.job_dlq
      where tenant_id = ${tenant} and type = ${type} and replayed_at is null
      order by id limit 1`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(DeadLetter))),
      Effect.map((rows) => rows[0])
    ))

export interface StuckEmail {
  readonly id: string
  readonly to: string
  readonly reason: string
}

export const stuckEmails = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<StuckEmail>`
    select id, payload ->> 'to' as to, error_reason as reason from redrive.job_dlq
    where tenant_id = ${tenant} and type = 'email.send' and replayed_at is null
    order by id`)

export interface ReplayOutcome {
  readonly replayed: number
  readonly completed: number
  readonly deadAgain: number
}

/** What became of the replayed jobs: completed, or back in the DLQ. */
export const replayOutcome = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<ReplayOutcome>`
      select (select count(*)::int from redrive.job_dlq where tenant_id = ${tenant} and replayed_at is not null)
               as replayed,
             (select count(*)::int from redrive.job
              where tenant_id = ${tenant} and replay_of is not null and state = 'completed') as completed,
             (select count(*)::int from redrive.job_dlq where tenant_id = ${tenant} and replay_of is not null)
               as dead_again`,
    (rows) => rows[0] ?? { replayed: 0, completed: 0, deadAgain: 0 }
  ))

export interface FailureStat {
  readonly type: string
  readonly errorClass: string
  readonly failures: number
  readonly deadLettered: number
  readonly recovered: number
  readonly successRate: number | null
}

/** The `failure_stats` view (24 h) for the demo tenant. */
export const failureStats = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<FailureStat>`
    select type, error_class, failures_24h::int as failures, dead_lettered_24h::int as dead_lettered,
           recovered_24h::int as recovered, retry_success_rate_24h::float8 as success_rate
    from redrive.failure_stats
    where tenant_id = ${tenant}
    order by type, error_class`)

export interface Totals {
  readonly enqueued: number
  readonly completed: number
  readonly firstTry: number
  readonly afterRetries: number
  readonly retriedAttempts: number
  readonly deadLettered: number
  readonly replayed: number
  readonly recovered: number
  readonly dlqRemaining: number
}

export const totals = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<Totals>`
      with j as (select state, attempt, replay_of from redrive.job where tenant_id = ${tenant}),
      d as (select replay_of, replayed_at from redrive.job_dlq where tenant_id = ${tenant}),
      f as (select coalesce(sum(failures), 0)::int as failures, coalesce(sum(dead_lettered), 0)::int as dead
            from redrive.failure_stat where tenant_id = ${tenant})
      select (select count(*) from j where replay_of is null)::int + (select count(*) from d where replay_of is null)::int
               as enqueued,
             (select count(*)::int from j where state = 'completed') as completed,
             (select count(*)::int from j where state = 'completed' and replay_of is null and attempt = 1) as first_try,
             (select count(*)::int from j where state = 'completed' and replay_of is null and attempt > 1)
               as after_retries,
             (select failures - dead from f) as retried_attempts,
             (select dead from f) as dead_lettered,
             (select count(*)::int from d where replayed_at is not null) as replayed,
             (select count(*)::int from j where state = 'completed' and replay_of is not null) as recovered,
             (select count(*)::int from d where replayed_at is null) as dlq_remaining`,
    (rows) => rows[0]!
  ))
