/** A row of `redrive.job`: a job that has not finished. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { ErrorHistory } from "./ErrorHistory.js"
import { DlqId, JobId, JobType, Priority, QueueName, StoredTenantId } from "./Ids.js"
import { GeneratedTimestamp, Jsonb, JsonbValue, NullableTimestamp, Timestamp } from "./internal/fields.js"

/** `dead_letter_conflict`: the job's dead letter could not be written (job_dlq already had one); kept for an operator. */
export const JobState = Schema.Literal("available", "paused", "running", "completed", "cancelled", "dead_letter_conflict")
export type JobState = typeof JobState.Type

export class Job extends Model.Class<Job>("Job")({
  id: Model.Generated(JobId),
  tenantId: StoredTenantId,
  queue: QueueName,
  type: JobType,
  payload: JsonbValue,
  priority: Priority,
  state: JobState,
  attempt: Schema.Int.pipe(Schema.nonNegative()),
  maxAttempts: Schema.Int.pipe(Schema.positive()),
  runAt: Timestamp,
  lockedBy: Schema.NullOr(Schema.String),
  lockedUntil: NullableTimestamp,
  heartbeatAt: NullableTimestamp,
  errorHistory: Jsonb(ErrorHistory),
  idempotencyKey: Schema.NullOr(Schema.String),
  replayOf: Schema.NullOr(DlqId),
  requestId: Schema.NullOr(Schema.String),
  userId: Schema.NullOr(Schema.String),
  createdAt: GeneratedTimestamp,
  updatedAt: GeneratedTimestamp,
  completedAt: NullableTimestamp
}) {}
