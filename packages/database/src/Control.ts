/** A row of `redrive.control`: the pause or drain state of a scope. No row means the scope runs. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { QueueName, StoredTenantId } from "./Ids.js"
import { GeneratedTimestamp, NullableTimestamp, Timestamp } from "./internal/fields.js"

/** `*` means every tenant or every queue. */
export const Wildcard = Schema.Literal("*")
// `default` is a scope too: a single-tenant user pauses its unscoped work with it.
export const ScopeTenant = Schema.Union(Wildcard, StoredTenantId)
export type ScopeTenant = typeof ScopeTenant.Type
export const ScopeQueue = Schema.Union(Wildcard, QueueName)
export type ScopeQueue = typeof ScopeQueue.Type

export const ControlScope = Schema.Struct({ tenantId: ScopeTenant, queue: ScopeQueue })
export type ControlScope = typeof ControlScope.Type

export const ControlState = Schema.Literal("paused", "draining", "drained")
export type ControlState = typeof ControlState.Type

export class Control extends Model.Class<Control>("Control")({
  tenantId: ScopeTenant,
  queue: ScopeQueue,
  state: ControlState,
  reason: Schema.NullOr(Schema.String),
  initiatedBy: Schema.String,
  initiatedAt: Timestamp,
  drainCompletedAt: NullableTimestamp,
  updatedAt: GeneratedTimestamp
}) {}
