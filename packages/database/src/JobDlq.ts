/** A row of `redrive.job_dlq`: a dead letter with its full error history. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { ErrorHistory } from "./ErrorHistory.js"
import { DlqId, ErrorClass, JobId, JobType, Priority, QueueName, StoredTenantId } from "./Ids.js"
import { Jsonb, JsonbValue, NullableTimestamp, Timestamp } from "./internal/fields.js"

export class JobDlq extends Model.Class<JobDlq>("JobDlq")({
  id: Model.Generated(DlqId),
  jobId: JobId,
  tenantId: StoredTenantId,
  queue: QueueName,
  type: JobType,
  payload: JsonbValue,
  priority: Priority,
  maxAttempts: Schema.Int.pipe(Schema.positive()),
  errorClass: ErrorClass,
  errorReason: Schema.String,
  attempts: Schema.Int.pipe(Schema.nonNegative()),
  errorHistory: Jsonb(ErrorHistory),
  fingerprint: Schema.String,
  firstFailedAt: Timestamp,
  dlqAt: Timestamp,
  replayedAt: NullableTimestamp,
  replayedBy: Schema.NullOr(Schema.String),
  replayJobId: Schema.NullOr(JobId),
  replayOf: Schema.NullOr(DlqId),
  requestId: Schema.NullOr(Schema.String),
  userId: Schema.NullOr(Schema.String)
}) {}
