/** SQL shared by every statement that appends to an error history. */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"

/**
 * `redrive.history_append`, inlined for the common case of a history below its cap: a plain
 * concatenation, without a PL/pgSQL call per row.
 */
export const appendHistory = (
  sql: SqlClient,
  history: Statement.Fragment,
  entry: Statement.Fragment,
  cap: Statement.Fragment
) =>
  sql`case when jsonb_array_length(${history}) < ${cap} then ${history} || jsonb_build_array(${entry})
           else redrive.history_append(${history}, ${entry}, ${cap}) end`
