/** The typed failures of the database package. Repositories never turn these into defects. */
import { SqlError } from "@effect/sql"
import { type Cause, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"

/** A statement failed (connection, constraint, syntax). `operation` names the repository method. */
export class DatabaseError extends Schema.TaggedError<DatabaseError>()("Redrive/DatabaseError", {
  operation: Schema.String,
  message: Schema.String,
  /** The Postgres SQLSTATE when there is one, e.g. 23514 for a CHECK violation. */
  code: Schema.optional(Schema.String),
  constraint: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {}

/** A row to write does not fit the model (bad input: nothing was written), or a row read back does not decode. */
export class InvalidRow extends Schema.TaggedError<InvalidRow>()("Redrive/InvalidRow", {
  operation: Schema.String,
  message: Schema.String
}) {}

/** A pagination cursor that was not issued by us, was altered, or belongs to another filter. */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("Redrive/InvalidCursor", {
  field: Schema.Literal("cursor"),
  reason: Schema.String
}) {}

/** A page size outside what a page may hold. */
export class InvalidLimit extends Schema.TaggedError<InvalidLimit>()("Redrive/InvalidLimit", {
  field: Schema.Literal("limit"),
  limit: Schema.Number,
  message: Schema.String
}) {}

const pgFields = (cause: unknown): { code?: string; constraint?: string; message?: string } => {
  if (typeof cause !== "object" || cause === null) return {}
  const out: { code?: string; constraint?: string; message?: string } = {}
  if ("code" in cause && typeof cause.code === "string") out.code = cause.code
  if ("constraint" in cause && typeof cause.constraint === "string") out.constraint = cause.constraint
  if ("message" in cause && typeof cause.message === "string") out.message = cause.message
  return out
}

/** A Postgres error's reason and SQLSTATE, as a message: `permission denied for table invoice (SQLSTATE 42501)`. */
export const reasonOf = (cause: unknown): string | undefined => {
  const pg = pgFields(cause)
  if (pg.message === undefined) return undefined
  return pg.code === undefined ? pg.message : `${pg.message} (SQLSTATE ${pg.code})`
}

/**
 * The same SqlError with Postgres's reason in its message (@effect/sql's says only "Failed to
 * execute statement" and keeps the reason in `cause`); a `permission denied` under the tenant
 * role says which grant is missing. The error keeps its type and tag for `catchTag("SqlError")`.
 */
export const explainSqlError = (error: SqlError.SqlError): SqlError.SqlError => {
  const reason = reasonOf(error.cause)
  if (reason === undefined || error.message.includes(reason)) return error
  const hint = pgFields(error.cause).code === "42501"
    ? ". Tenant blocks run as the role redrive_tenant: give it your table with " +
      "select redrive.grant_tenant_access('schema.table', 'tenant_column')"
    : ""
  return new SqlError.SqlError({ cause: error.cause, message: `${error.message}: ${reason}${hint}` })
}

/** Maps the errors of a statement (SQL or Schema) into the package's typed errors. */
export const fromSqlError = (operation: string) =>
(
  error: SqlError.SqlError | ParseError | Cause.NoSuchElementException
): DatabaseError | InvalidRow => {
  if (error._tag === "ParseError") return new InvalidRow({ operation, message: error.message })
  if (error._tag === "NoSuchElementException") {
    return new DatabaseError({ operation, message: "the statement returned no row" })
  }
  const pg = pgFields(error.cause)
  return new DatabaseError({
    operation,
    message: reasonOf(error.cause) ?? error.message,
    ...(pg.code !== undefined ? { code: pg.code } : {}),
    ...(pg.constraint !== undefined ? { constraint: pg.constraint } : {}),
    cause: error.cause
  })
}

export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("Redrive/DeadLetterNotFound", {
  id: Schema.Number
}) {}

/** The dead letter was replayed already; `replayJobId` is the job that replay created. */
export class DeadLetterAlreadyReplayed extends Schema.TaggedError<DeadLetterAlreadyReplayed>()(
  "Redrive/DeadLetterAlreadyReplayed",
  { id: Schema.Number, replayJobId: Schema.NullOr(Schema.Number) }
) {}
