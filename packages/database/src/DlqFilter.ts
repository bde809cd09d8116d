/**
 * Which dead letters an inspection page or a bulk replay covers. Every field narrows the
 * set; an empty filter means every unreplayed dead letter the caller may see.
 */
import { Schema } from "effect"
import { DlqIdInput, ErrorClass, JobType, QueueName, StoredTenantId } from "./Ids.js"

/** Most ids a filter lists; a longer list is refused by the Schema, naming `ids`. */
export const maxIds = 1000

/** An ISO string or a Date; encoded (in a stored replay request) as the ISO string. */
const DateInput = Schema.Union(Schema.Date, Schema.DateFromSelf)

/**
 * Callers pass plain values (`{ tenantId: "acme", ids: [3, 4], dlqFrom: new Date() }`) and the
 * library decodes them; a bad field is an `InvalidInput` naming it (`filter.ids.1`).
 */
export const DlqFilter = Schema.Struct({
  tenantId: Schema.optional(StoredTenantId),
  queue: Schema.optional(QueueName),
  type: Schema.optional(JobType),
  errorClass: Schema.optional(ErrorClass),
  fingerprint: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** dlq_at >= dlqFrom (a Date, or an ISO string) */
  dlqFrom: Schema.optional(DateInput),
  /** dlq_at < dlqTo (a Date, or an ISO string) */
  dlqTo: Schema.optional(DateInput),
  /** Dead-letter ids, as numbers or decimal strings. */
  ids: Schema.optional(
    Schema.Array(DlqIdInput).pipe(Schema.maxItems(maxIds, { message: () => `ids: at most ${maxIds} ids per filter` }))
  )
}).pipe(
  Schema.filter((f) =>
    f.dlqFrom === undefined || f.dlqTo === undefined || f.dlqFrom.getTime() < f.dlqTo.getTime() ||
    { path: ["dlqTo"], message: "dlqTo must be after dlqFrom" }
  )
)
export type DlqFilter = typeof DlqFilter.Type
/** A filter as callers write it: plain strings, numbers and dates. */
export type DlqFilterInput = typeof DlqFilter.Encoded
