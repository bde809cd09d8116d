/** A row of `redrive.control`: the pause or drain state of a scope. No row means the scope runs. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { JobType, QueueName, StoredTenantId } from "./Ids.js"
import { GeneratedTimestamp, NullableTimestamp, Timestamp } from "./internal/fields.js"

/** `*` means every tenant, every queue or every job type. */
export const Wildcard = Schema.Literal("*")
// `default` is a scope too: a single-tenant user pauses its unscoped work with it.
export const ScopeTenant = Schema.Union(Wildcard, StoredTenantId)
export type ScopeTenant = typeof ScopeTenant.Type
export const ScopeQueue = Schema.Union(Wildcard, QueueName)
export type ScopeQueue = typeof ScopeQueue.Type
export const ScopeType = Schema.Union(Wildcard, JobType)
export type ScopeType = typeof ScopeType.Type

/** A scope: (tenant, queue), narrowed to one job type when `type` is given (default `*`, every type). */
export const ControlScope = Schema.Struct({ tenantId: ScopeTenant, queue: ScopeQueue, type: Schema.optional(ScopeType) })
export type ControlScope = typeof ControlScope.Type

/**
 * `probing` is the circuit breaker's half-open state of a type: the type stays paused (new jobs
 * wait as `paused`) except for the few probe jobs the breaker made available.
 */
export const ControlState = Schema.Literal("paused", "draining", "drained", "probing")
export type ControlState = typeof ControlState.Type

/** The actor the circuit breaker writes in control rows and control_event. */
export const circuitBreakerActor = "circuit-breaker"

export class Control extends Model.Class<Control>("Control")({
  tenantId: ScopeTenant,
  queue: ScopeQueue,
  // Optional on insert: the column's default `*` keeps a (tenant, queue) pause about every type.
  type: Model.Field({
    select: ScopeType,
    insert: Schema.optional(ScopeType),
    update: ScopeType,
    json: ScopeType,
    jsonCreate: Schema.optional(ScopeType),
    jsonUpdate: ScopeType
  }),
  state: ControlState,
  reason: Schema.NullOr(Schema.String),
  initiatedBy: Schema.String,
  initiatedAt: Timestamp,
  drainCompletedAt: NullableTimestamp,
  updatedAt: GeneratedTimestamp
}) {}
