/**
 * Which dead letters an inspection page or a bulk replay covers. Every field narrows the
 * set; an empty filter means every unreplayed dead letter the caller may see.
 */
import { Schema } from "effect"
import { DlqId, ErrorClass, JobType, QueueName, StoredTenantId } from "./Ids.js"

/** Most ids a filter lists; a longer list is refused by the Schema, naming `ids`. */
export const maxIds = 1000

export const DlqFilter = Schema.Struct({
  tenantId: Schema.optional(StoredTenantId),
  queue: Schema.optional(QueueName),
  type: Schema.optional(JobType),
  errorClass: Schema.optional(ErrorClass),
  fingerprint: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** dlq_at >= dlqFrom */
  dlqFrom: Schema.optional(Schema.Date),
  /** dlq_at < dlqTo */
  dlqTo: Schema.optional(Schema.Date),
  ids: Schema.optional(
    Schema.Array(DlqId).pipe(Schema.maxItems(maxIds, { message: () => `ids: at most ${maxIds} ids per filter` }))
  )
}).pipe(
  Schema.filter((f) =>
    f.dlqFrom === undefined || f.dlqTo === undefined || f.dlqFrom.getTime() < f.dlqTo.getTime() ||
    { path: ["dlqTo"], message: "dlqTo must be after dlqFrom" }
  )
)
export type DlqFilter = typeof DlqFilter.Type
