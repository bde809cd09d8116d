/**
 * Runs one of the library's hot statements as a named prepared statement on the runtime's pool
 * (PgPool.ts): each connection parses and plans it once, then only binds and executes it. Only
 * where that is the same as running it through the SqlClient: outside a transaction (inside one,
 * the statement belongs on the transaction's connection) and outside a tenant block (whose
 * statements run as the tenant role), and only when the SqlClient in scope is the one on that
 * pool. Elsewhere, and when prepared statements are off (DATABASE_PREPARED_STATEMENTS=false, for
 * a pooler in transaction mode), the statement runs as it is.
 *
 * Only for statements whose plan does not depend on their parameters' values: after five
 * executions Postgres may keep one generic plan for every call.
 */
import type { Statement } from "@effect/sql"
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { Context, Effect, Option } from "effect"
import * as LibrarySpan from "./LibrarySpan.js"
import { PgPool } from "./PgPool.js"
import { currentTenant } from "./Tenant.js"

/** FNV-1a of the text: a statement's fragments can vary, and a name must name one text. */
const digest = (text: string) => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(36)
}

const names = new Map<string, string>()
const nameOf = (prefix: string, text: string) => {
  const key = `${prefix}\u0000${text}`
  let name = names.get(key)
  if (name === undefined) {
    name = `${prefix}_${digest(text)}`
    // Bounded: the library's hot statements have a handful of texts each.
    if (names.size < 1000) names.set(key, name)
  }
  return name
}

/**
 * One fiber-runtime step reads what the decision needs (the fiber's context and tenant): this is
 * on the path of every enqueue, claim and settle, and an idle worker's wake-up runs it cold, where
 * each Effect step costs several times what it does in a hot loop.
 */
export const execute = <A extends object>(
  prefix: string,
  statement: Statement.Statement<A>
): Effect.Effect<ReadonlyArray<A>, SqlError> =>
  Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext
    const pool = Context.getOption(context, PgPool)
    if (
      Option.isNone(pool) ||
      Option.getOrUndefined(Context.getOption(context, SqlClient.SqlClient)) !== pool.value.client ||
      Option.isSome(Context.getOption(context, SqlClient.TransactionConnection)) ||
      Option.isSome(fiber.getFiberRef(currentTenant))
    ) {
      return statement
    }
    const [text, params] = statement.compile()
    const name = nameOf(prefix, text)
    const query = Effect.async<ReadonlyArray<A>, SqlError>((resume) => {
      pool.value.pool.query({ name, text, values: [...params] }, (error, result) => {
        resume(
          error
            ? Effect.fail(new SqlError({ cause: error, message: "Failed to execute statement" }))
            : Effect.succeed(result.rows)
        )
      })
    })
    // The span @effect/sql opens for a statement, so traces show the statement either way.
    return LibrarySpan.withSpan("sql.execute", {
      kind: "client",
      attributes: { "db.system.name": "postgresql", "db.query.text": text, "db.statement.name": name }
    })(query)
  })
