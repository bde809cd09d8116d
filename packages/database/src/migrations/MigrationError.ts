import { Schema } from "effect"

/** The runner will not go on: the files on disk disagree with what the database has applied. */
export class MigrationRefused extends Schema.TaggedError<MigrationRefused>()("Redrive/MigrationRefused", {
  file: Schema.String,
  reason: Schema.Literal("checksum_mismatch", "out_of_order", "missing", "renamed", "invalid_name", "duplicate_id"),
  message: Schema.String
}) {}

/** A migration file could not be read, or its SQL failed (the file's transaction was rolled back). */
export class MigrationFailed extends Schema.TaggedError<MigrationFailed>()("Redrive/MigrationFailed", {
  file: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
