/**
 * The statements of a purge (DeadLetterPurge.ts): count what a filter matches, open the audit
 * row, delete in batches (each batch adds what it deleted to the audit row in the same
 * statement, so the audit never disagrees with the table), close the audit row.
 */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"
import { cutoff, heldByBulkReplay } from "./pruneSql.js"

type Sql = SqlClient

export interface Target {
  /** DlqFilterSql.clauses of the filter (unqualified job_dlq columns). */
  readonly clauses: ReadonlyArray<Statement.Fragment>
  readonly olderThanMs: number | null
}

/** Unreplayed dead letters matching the filter, older than the cutoff, no pending bulk replay holds. */
const matches = (sql: Sql, target: Target) =>
  sql.and([
    sql`t.replayed_at is null`,
    ...target.clauses,
    ...(target.olderThanMs === null ? [] : [sql`t.dlq_at < ${cutoff(sql, target.olderThanMs)}`]),
    sql`not ${heldByBulkReplay(sql)}`
  ])

export const count = (sql: Sql, target: Target) =>
  sql<{ readonly count: number }>`select count(*)::int as count from redrive.job_dlq t where ${matches(sql, target)}`

export const open = (
  sql: Sql,
  audit: {
    readonly tenantId: string
    readonly filterJson: string
    readonly olderThanMs: number | null
    readonly by: string
    readonly reason: string | null
  }
) =>
  sql<{ readonly id: string }>`
    insert into redrive.dlq_purge (tenant_id, filter, older_than_ms, purged_by, reason)
    values (${audit.tenantId}, ${audit.filterJson}::jsonb, ${audit.olderThanMs}, ${audit.by}, ${audit.reason})
    returning id`

/** Deletes up to `limit` matching dead letters (`skip locked`: a row a replay holds is left alone). */
export const batch = (sql: Sql, auditId: number, target: Target, limit: number) =>
  sql<{ readonly deleted: number }>`
    with picked as (
      select t.id from redrive.job_dlq t
      where ${matches(sql, target)}
      order by t.id
      limit ${limit}::int
      for update skip locked
    ), deleted as (
      delete from redrive.job_dlq t
      where t.id = any(array(select id from picked)) and t.replayed_at is null
      returning 1
    ), counted as (
      update redrive.dlq_purge set deleted = deleted + (select count(*) from deleted) where id = ${auditId}
    )
    select count(*)::int as deleted from deleted`

export const close = (sql: Sql, auditId: number) =>
  sql`update redrive.dlq_purge set finished_at = now() where id = ${auditId}`
