/** A row of `redrive.control_event`: the audit trail of pauses, resumes and drains. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { ControlState, ScopeQueue, ScopeTenant, ScopeType } from "./Control.js"
import { ControlEventId } from "./Ids.js"
import { GeneratedTimestamp } from "./internal/fields.js"

/** `probe`: the circuit breaker let a type's probe jobs run (half-open). */
export const ControlAction = Schema.Literal("pause", "resume", "drain", "drain_completed", "probe")
export type ControlAction = typeof ControlAction.Type

export class ControlEvent extends Model.Class<ControlEvent>("ControlEvent")({
  id: Model.Generated(ControlEventId),
  tenantId: ScopeTenant,
  queue: ScopeQueue,
  type: ScopeType,
  action: ControlAction,
  previousState: Schema.NullOr(ControlState),
  reason: Schema.NullOr(Schema.String),
  actor: Schema.String,
  at: GeneratedTimestamp
}) {}
