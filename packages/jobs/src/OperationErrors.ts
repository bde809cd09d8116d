/**
 * The refusals of the operator services (job commands, replay, error groups, alert channels, payload
 * limits): definitions only, so a browser bundle of the HTTP API decodes them without loading the
 * services. Each service module re-exports its own.
 */
import { Schema } from "effect"

export class JobNotFound extends Schema.TaggedError<JobNotFound>()("Redrive/JobNotFound", {
  id: Schema.Number
}) {}

/**
 * The job is running: a worker holds its lease and owns the row until it settles, so it cannot
 * be cancelled or rescheduled from outside (the settle would overwrite us, or we would cancel
 * work that is half done). Wait for it to settle, or let the handler discard it.
 */
export class JobRunning extends Schema.TaggedError<JobRunning>()("Redrive/JobRunning", {
  id: Schema.Number,
  lockedBy: Schema.NullOr(Schema.String),
  lockedUntil: Schema.NullOr(Schema.Date)
}) {}

/** The job has completed (kept under a retention), or was cancelled and cannot run now. */
export class JobAlreadyFinished extends Schema.TaggedError<JobAlreadyFinished>()("Redrive/JobAlreadyFinished", {
  id: Schema.Number,
  state: Schema.Literal("completed", "cancelled")
}) {}

/** An edited payload does not decode with its job type's Schema; nothing was written. */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("Redrive/InvalidPayload", {
  type: Schema.String,
  /** The offending field as a dotted path (`address.zip`), or `payload` when the whole value is wrong. */
  field: Schema.String,
  path: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  message: Schema.String
}) {}

/** A payload was edited for a job type this process has no definition for, so it cannot be validated. */
export class UnknownJobType extends Schema.TaggedError<UnknownJobType>()("Redrive/UnknownJobType", {
  type: Schema.String
}) {}

export class ReplayRequestNotFound extends Schema.TaggedError<ReplayRequestNotFound>()(
  "Redrive/ReplayRequestNotFound",
  { id: Schema.String }
) {}

/**
 * The id is taken in this scope but its request could not be read back (it was deleted meanwhile).
 * Ids are unique per tenant: another tenant's request with the same id never causes this.
 */
export class ReplayRequestConflict extends Schema.TaggedError<ReplayRequestConflict>()(
  "Redrive/ReplayRequestConflict",
  { id: Schema.String }
) {}

export class InvalidBulkReplay extends Schema.TaggedError<InvalidBulkReplay>()("Redrive/InvalidBulkReplay", {
  field: Schema.String,
  message: Schema.String
}) {}

export class ErrorGroupNotFound extends Schema.TaggedError<ErrorGroupNotFound>()("Redrive/ErrorGroupNotFound", {
  type: Schema.String,
  errorClass: Schema.String,
  fingerprint: Schema.String
}) {}

/**
 * A payload (or a batch of them) over its byte limit; nothing was written. `field` names it:
 * `payload`, `payloads[3]`, or `payloads` for a batch's total.
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("Redrive/PayloadTooLarge", {
  field: Schema.String,
  bytes: Schema.Int,
  limit: Schema.Int
}) {}

export class AlertChannelNotFound extends Schema.TaggedError<AlertChannelNotFound>()("Redrive/AlertChannelNotFound", {
  id: Schema.Number,
  message: Schema.String
}) {}

export class AlertDeliveryNotFound extends Schema.TaggedError<AlertDeliveryNotFound>()(
  "Redrive/AlertDeliveryNotFound",
  { id: Schema.Number, message: Schema.String }
) {}
