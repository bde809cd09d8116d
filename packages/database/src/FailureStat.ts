/** A row of `redrive.failure_stat`: per-minute failure counters behind the failure_stats view. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { ErrorClass, JobType, QueueName, StoredTenantId } from "./Ids.js"
import { Timestamp } from "./internal/fields.js"

export class FailureStat extends Model.Class<FailureStat>("FailureStat")({
  tenantId: StoredTenantId,
  queue: QueueName,
  type: JobType,
  errorClass: ErrorClass,
  bucket: Timestamp,
  failures: Schema.Int.pipe(Schema.nonNegative()),
  deadLettered: Schema.Int.pipe(Schema.nonNegative()),
  recovered: Schema.Int.pipe(Schema.nonNegative())
}) {}
