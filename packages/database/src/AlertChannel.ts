/** A row of `redrive.alert_channel`: a webhook or Slack destination, a tenant's or global. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { AlertChannelId, Priority, StoredTenantId } from "./Ids.js"
import { GeneratedTimestamp } from "./internal/fields.js"

export const AlertChannelKind = Schema.Literal("webhook", "slack")
export type AlertChannelKind = typeof AlertChannelKind.Type

export class AlertChannel extends Model.Class<AlertChannel>("AlertChannel")({
  id: Model.Generated(AlertChannelId),
  /** null: a global channel, managed by admins, receiving every tenant's events. */
  tenantId: Schema.NullOr(StoredTenantId),
  name: Schema.String.pipe(Schema.minLength(1)),
  kind: AlertChannelKind,
  url: Schema.String.pipe(Schema.pattern(/^https?:\/\//)),
  secret: Model.Sensitive(Schema.NullOr(Schema.String)),
  /** Event names wanted; empty means every event. */
  events: Schema.Array(Schema.String),
  minPriority: Priority,
  enabled: Schema.Boolean,
  createdAt: GeneratedTimestamp,
  updatedAt: GeneratedTimestamp
}) {}
