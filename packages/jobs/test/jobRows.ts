/**
 * What worker tests read back from the database about their own jobs: the live row, the dead
 * letters and the failure counters, decoded with the models as any row from the database is.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { FailureStat, Job, JobDlq } from "@redrive/database"
import { Duration, Effect, Schema } from "effect"

/** The job's row; none once it was deleted (completed without retention, or dead-lettered). */
export const jobRow = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    SqlSchema.findOne({
      Request: Schema.Number,
      Result: Job.Job,
      execute: (jobId) => sql`select * from redrive.job where id = ${jobId}`
    })(id))

/** Every dead letter of the job (a job is dead-lettered at most once: zero or one row). */
export const dlqRows = (jobId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    SqlSchema.findAll({
      Request: Schema.Number,
      Result: JobDlq.JobDlq,
      execute: (id) => sql`select * from redrive.job_dlq where job_id = ${id} order by id`
    })(jobId))

/** The failure counters of a tenant (tests use a tenant of their own). */
export const failureStats = (tenantId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    SqlSchema.findAll({
      Request: Schema.String,
      Result: FailureStat.FailureStat,
      execute: (tenant) => sql`select * from redrive.failure_stat where tenant_id = ${tenant} order by error_class`
    })(tenantId))

const Count = Schema.Struct({ n: Schema.Int })

/** Jobs of these queues still in the job table, whatever their state. */
export const jobsIn = (queues: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    SqlSchema.single({
      Request: Schema.Array(Schema.String),
      Result: Count,
      execute: (qs) => sql`select count(*)::int as n from redrive.job where queue = any(${qs}::text[])`
    })(queues)).pipe(Effect.map((row) => row.n))

/** Sleeps until the wall clock reads `at` (epoch ms); returns at once if that time has passed. */
export const sleepUntil = (at: number) =>
  Effect.suspend(() => Effect.sleep(Duration.millis(Math.max(0, at - Date.now()))))
