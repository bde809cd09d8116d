/** The WHERE clauses of a DlqFilter, shared by inspection pages and bulk replay. Always parameterised. */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"
import type { DlqFilter } from "./DlqFilter.js"

export const clauses = (sql: SqlClient, filter: DlqFilter): Array<Statement.Fragment> =>
  [
    filter.tenantId !== undefined ? sql`tenant_id = ${filter.tenantId}` : undefined,
    filter.queue !== undefined ? sql`queue = ${filter.queue}` : undefined,
    filter.type !== undefined ? sql`type = ${filter.type}` : undefined,
    filter.errorClass !== undefined ? sql`error_class = ${filter.errorClass}` : undefined,
    filter.fingerprint !== undefined ? sql`fingerprint = ${filter.fingerprint}` : undefined,
    filter.dlqFrom !== undefined ? sql`dlq_at >= ${filter.dlqFrom}` : undefined,
    filter.dlqTo !== undefined ? sql`dlq_at < ${filter.dlqTo}` : undefined,
    filter.ids !== undefined ? sql`id = any(${filter.ids}::bigint[])` : undefined
  ].filter((c) => c !== undefined)
