/** The typed failures of the database package. Repositories never turn these into defects. */
import type { SqlError } from "@effect/sql"
import { type Cause, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"

/** A statement failed (connection, constraint, syntax). `operation` names the repository method. */
export class DatabaseError extends Schema.TaggedError<DatabaseError>()("DatabaseError", {
  operation: Schema.String,
  message: Schema.String,
  /** The Postgres SQLSTATE when there is one, e.g. 23514 for a CHECK violation. */
  code: Schema.optional(Schema.String),
  constraint: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {}

/** A row to write does not fit the model (bad input: nothing was written), or a row read back does not decode. */
export class InvalidRow extends Schema.TaggedError<InvalidRow>()("InvalidRow", {
  operation: Schema.String,
  message: Schema.String
}) {}

/** A pagination cursor that was not issued by us, was altered, or belongs to another filter. */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  field: Schema.Literal("cursor"),
  reason: Schema.String
}) {}

/** A page size outside what a page may hold. */
export class InvalidLimit extends Schema.TaggedError<InvalidLimit>()("InvalidLimit", {
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
    message: pg.message ?? error.message,
    ...(pg.code !== undefined ? { code: pg.code } : {}),
    ...(pg.constraint !== undefined ? { constraint: pg.constraint } : {}),
    cause: error.cause
  })
}

export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", {
  id: Schema.Number
}) {}

/** The dead letter was replayed already; `replayJobId` is the job that replay created. */
export class DeadLetterAlreadyReplayed extends Schema.TaggedError<DeadLetterAlreadyReplayed>()(
  "DeadLetterAlreadyReplayed",
  { id: Schema.Number, replayJobId: Schema.NullOr(Schema.Number) }
) {}
