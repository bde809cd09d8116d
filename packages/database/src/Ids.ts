/**
 * Branded identifiers, so the ids of different tables cannot be mixed up.
 * Postgres returns `bigint` columns as strings; the ids decode them to numbers
 * (safe: identity values stay far below 2^53).
 */
import { Schema } from "effect"

const BigintId = <B extends string>(brand: B) =>
  Schema.NumberFromString.pipe(Schema.int(), Schema.positive(), Schema.brand(brand))

/**
 * An id as a caller gives it at the boundary: a number (`3`) or its decimal string (`"3"`),
 * decoded to the same branded type as the column's id.
 */
const BigintIdInput = <B extends string>(brand: B) =>
  Schema.Union(Schema.NumberFromString, Schema.Number).pipe(Schema.int(), Schema.positive(), Schema.brand(brand))

export const JobId = BigintId("JobId")
export type JobId = typeof JobId.Type

export const DlqId = BigintId("DlqId")
export type DlqId = typeof DlqId.Type

/** A job id or a dead-letter id as callers pass them: `3` or `"3"`. */
export const JobIdInput = BigintIdInput("JobId")
export const DlqIdInput = BigintIdInput("DlqId")

export const ControlEventId = BigintId("ControlEventId")
export type ControlEventId = typeof ControlEventId.Type

export const AlertChannelId = BigintId("AlertChannelId")
export type AlertChannelId = typeof AlertChannelId.Type

/** An alert channel id as callers pass it: `3` or `"3"`. */
export const AlertChannelIdInput = BigintIdInput("AlertChannelId")

export const AlertDeliveryId = BigintId("AlertDeliveryId")
export type AlertDeliveryId = typeof AlertDeliveryId.Type
/** An alert delivery id as callers pass it: `3` or `"3"`. */
export const AlertDeliveryIdInput = BigintIdInput("AlertDeliveryId")
export const AlertAttemptId = BigintId("AlertAttemptId")
export type AlertAttemptId = typeof AlertAttemptId.Type

export const ApiKeyId = BigintId("ApiKeyId")
export type ApiKeyId = typeof ApiKeyId.Type

export const ReplayRequestId = Schema.UUID.pipe(Schema.brand("ReplayRequestId"))
export type ReplayRequestId = typeof ReplayRequestId.Type

const tenantIdString = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(128),
  Schema.filter((s) => s !== "*" || "'*' is reserved for control scopes")
)

/** The tenant a row holds: a real tenant, or `default` for work enqueued without one. */
export const StoredTenantId = tenantIdString.pipe(Schema.brand("TenantId"))

/**
 * A real tenant, as callers name one: `*` (every tenant, in control scopes) and `default` (work
 * enqueued without a tenant) are reserved, so no tenant can be given another's — or nobody's — rows.
 */
export const TenantId = tenantIdString.pipe(
  Schema.filter((s) => s !== "default" || "'default' is reserved for work enqueued without a tenant"),
  Schema.brand("TenantId")
)
export type TenantId = typeof TenantId.Type

/** Tenant ids no caller may use as a real tenant's. */
export const reservedTenantIds: ReadonlySet<string> = new Set(["*", "default"])

/** A real queue name: `*` is reserved for "every queue" in control scopes. */
export const QueueName = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(128),
  Schema.filter((s) => s !== "*" || "'*' is reserved for control scopes"),
  Schema.brand("QueueName")
)
export type QueueName = typeof QueueName.Type

export const JobType = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128), Schema.brand("JobType"))
export type JobType = typeof JobType.Type

/** A job's priority: 1 is the most urgent, 10 the least. */
export const Priority = Schema.Int.pipe(Schema.between(1, 10), Schema.brand("Priority"))
export type Priority = typeof Priority.Type

/** Error classes are extensible; the built-in ones live in @redrive/jobs. */
export const ErrorClass = Schema.String.pipe(Schema.pattern(/^[a-z][a-z0-9_]{0,63}$/), Schema.brand("ErrorClass"))
export type ErrorClass = typeof ErrorClass.Type

export const DefaultTenant = StoredTenantId.make("default")
export const DefaultQueue = QueueName.make("default")
