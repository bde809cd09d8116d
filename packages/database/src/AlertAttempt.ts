/** A row of `redrive.alert_attempt`: one try of an alert delivery (every try is kept). */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { AlertAttemptId, AlertDeliveryId, StoredTenantId } from "./Ids.js"
import { GeneratedTimestamp } from "./internal/fields.js"

export const AlertAttemptOutcome = Schema.Literal("delivered", "failed", "timeout")
export type AlertAttemptOutcome = typeof AlertAttemptOutcome.Type

export class AlertAttempt extends Model.Class<AlertAttempt>("AlertAttempt")({
  id: Model.Generated(AlertAttemptId),
  deliveryId: AlertDeliveryId,
  tenantId: Schema.NullOr(StoredTenantId),
  attempt: Schema.Int.pipe(Schema.positive()),
  outcome: AlertAttemptOutcome,
  /** The HTTP status (webhook, Slack) or SMTP reply code, when the endpoint answered. */
  statusCode: Schema.NullOr(Schema.Int),
  error: Schema.NullOr(Schema.String),
  durationMs: Schema.Int.pipe(Schema.nonNegative()),
  /** How many deliveries the message carried: 1, or a digest's count. */
  carried: Schema.Int.pipe(Schema.positive()),
  at: GeneratedTimestamp
}) {}
