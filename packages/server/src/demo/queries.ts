/**
 * What the demo reads from (and the one thing it deletes in) the database. Every statement is
 * limited to the demo tenant: DATABASE_URL may point at a database with real tenants in it.
 */
import { SqlClient } from "@effect/sql"
import { ErrorHistory } from "@redrive/database"
import { Effect, Schema } from "effect"
import { tenant } from "./definitions.js"

/** Forgets the previous run: the demo tenant's jobs, dead letters, counters and replay requests. */
export const resetTenant = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(Effect.all([
    sql`delete from redrive.job where tenant_id = ${tenant}`,
    sql`delete from redrive.job_dlq where tenant_id = ${tenant}`,
    sql`delete from redrive.failure_stat where tenant_id = ${tenant}`,
    sql`delete from redrive.replay_request where tenant_id = ${tenant}`
  ], { discard: true }))
})

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
