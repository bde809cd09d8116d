/**
 * The SqlClient without its result-name transforms, made once per client. `withoutTransforms()`
 * builds a new client on every call (a statement factory and a copy of every method: ~18 µs a
 * call, the largest single cost of Node's own work on the enqueue path), and the hot statements
 * called it once per statement.
 */
import type { SqlClient } from "@effect/sql/SqlClient"

const raw = new WeakMap<SqlClient, SqlClient>()

export const of = (sql: SqlClient): SqlClient => {
  let client = raw.get(sql)
  if (client === undefined) {
    client = sql.withoutTransforms()
    raw.set(sql, client)
  }
  return client
}
