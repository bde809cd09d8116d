/** A row of `redrive.replay_request`: a durable bulk replay, resumable after a crash. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { ScopeTenant } from "./Control.js"
import { DlqFilter } from "./DlqFilter.js"
import { ReplayRequestId } from "./Ids.js"
import { BigintCount, GeneratedTimestamp, Jsonb, NullableTimestamp } from "./internal/fields.js"

export const ReplayRequestState = Schema.Literal("pending", "running", "done", "cancelled", "failed")
export type ReplayRequestState = typeof ReplayRequestState.Type

export class ReplayRequest extends Model.Class<ReplayRequest>("ReplayRequest")({
  id: ReplayRequestId,
  tenantId: ScopeTenant,
  filter: Jsonb(DlqFilter),
  maxDlqId: BigintCount,
  dryRun: Schema.Boolean,
  state: ReplayRequestState,
  matched: BigintCount,
  replayed: BigintCount,
  ratePerSec: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  requestedBy: Schema.String,
  lockedBy: Schema.NullOr(Schema.String),
  lockedUntil: NullableTimestamp,
  error: Schema.NullOr(Schema.String),
  createdAt: GeneratedTimestamp,
  startedAt: NullableTimestamp,
  finishedAt: NullableTimestamp,
  updatedAt: GeneratedTimestamp
}) {}
