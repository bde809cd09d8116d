/**
 * A row of `redrive.alert_channel`: a webhook, Slack or email (SMTP) destination, a tenant's or
 * global, with its rules. The secret (webhook signing key, SMTP password) is `Model.Sensitive`:
 * absent from every JSON variant, so no read through the model returns it.
 */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { AlertChannelId, Priority, StoredTenantId } from "./Ids.js"
import { GeneratedTimestamp } from "./internal/fields.js"

export const AlertChannelKind = Schema.Literal("webhook", "slack", "email")
export type AlertChannelKind = typeof AlertChannelKind.Type

export class AlertChannel extends Model.Class<AlertChannel>("AlertChannel")({
  id: Model.Generated(AlertChannelId),
  /** null: a global channel, managed by admins, receiving every tenant's events. */
  tenantId: Schema.NullOr(StoredTenantId),
  name: Schema.String.pipe(Schema.minLength(1)),
  kind: AlertChannelKind,
  /** webhook, slack: an http(s) URL; email: `smtp://user@host:port` or `smtps://…` (password in `secret`). */
  url: Schema.String.pipe(Schema.pattern(/^(https?|smtps?):\/\//)),
  /** Excluded from the JSON variants, and a `Redacted` in the others: printing a row never shows it. */
  secret: Model.Sensitive(Schema.NullOr(Schema.Redacted(Schema.String))),
  /** Event names wanted; empty means every event. */
  events: Schema.Array(Schema.String),
  minPriority: Priority,
  /** email: the addresses the alerts go to, and the sender (null: `redrive@<smtp host>`). */
  recipients: Schema.Array(Schema.String),
  sender: Schema.NullOr(Schema.String),
  /** Job events of these error classes only; empty means every class. */
  errorClasses: Schema.Array(Schema.String),
  /** job.failing: this many failures of a (tenant, queue, type) within the window, none recovering. */
  failingAfter: Schema.Int.pipe(Schema.positive()),
  failingWindowS: Schema.Int.pipe(Schema.positive()),
  /** dlq.threshold: unreplayed dead letters of a (tenant, queue) above this; null: never. */
  dlqThreshold: Schema.NullOr(Schema.Int.pipe(Schema.nonNegative())),
  /** Deliveries sharing a coalesce key within this many seconds go out as one digest. */
  digestWindowS: Schema.Int.pipe(Schema.nonNegative()),
  enabled: Schema.Boolean,
  createdAt: GeneratedTimestamp,
  updatedAt: GeneratedTimestamp
}) {}
