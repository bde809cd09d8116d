/** A row of `redrive.alert_delivery`: the outbox of alert events and the history of each try. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { AlertChannelId, AlertDeliveryId, StoredTenantId } from "./Ids.js"
import { GeneratedTimestamp, Jsonb, NullableTimestamp, Timestamp } from "./internal/fields.js"

export const AlertDeliveryState = Schema.Literal("pending", "delivered", "failed", "coalesced")
export type AlertDeliveryState = typeof AlertDeliveryState.Type

export class AlertDelivery extends Model.Class<AlertDelivery>("AlertDelivery")({
  id: Model.Generated(AlertDeliveryId),
  channelId: AlertChannelId,
  tenantId: Schema.NullOr(StoredTenantId),
  event: Schema.String.pipe(Schema.pattern(/^[a-z_]+\.[a-z_]+$/)),
  payload: Jsonb(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  coalesceKey: Schema.NullOr(Schema.String),
  /** Makes an evaluated event (replay.finished, …) idempotent per channel. */
  dedupeKey: Schema.NullOr(Schema.String),
  /** A `coalesced` row: the delivery whose digest carried it (and whose fate it shares). */
  sentIn: Schema.NullOr(AlertDeliveryId),
  state: AlertDeliveryState,
  attempts: Schema.Int.pipe(Schema.nonNegative()),
  nextAttemptAt: Timestamp,
  lastStatus: Schema.NullOr(Schema.Int),
  lastError: Schema.NullOr(Schema.String),
  createdAt: GeneratedTimestamp,
  deliveredAt: NullableTimestamp
}) {}
