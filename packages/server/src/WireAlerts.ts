/**
 * Alert channels on the wire: the requests (strict: unknown fields refused, every problem
 * reported) and the views. The views are AlertChannels' results, which never hold the secret
 * (`hasSecret` says whether there is one): the secret is write-only, in create and update only.
 *
 * The requests check shapes; the ranges and the kind's rules (URL scheme, a webhook's secret,
 * email recipients) are AlertChannels' (ChannelInput.ts), answered as InvalidInput naming the
 * field, with messages that never quote a URL or a secret.
 */
import { Schema } from "effect"
import { Id, strict, Tenant } from "./WireSchemas.js"

const Kind = Schema.Literal("webhook", "slack", "email")
const DeliveryState = Schema.Literal("pending", "delivered", "failed", "coalesced")
const Strings = Schema.Array(Schema.String.pipe(Schema.maxLength(320))).pipe(Schema.maxItems(100))

const Rules = {
  events: Schema.optional(Strings),
  errorClasses: Schema.optional(Strings),
  minPriority: Schema.optional(Schema.Int),
  recipients: Schema.optional(Strings),
  sender: Schema.optional(Schema.NullOr(Schema.String)),
  failingAfter: Schema.optional(Schema.Int),
  failingWindowS: Schema.optional(Schema.Int),
  dlqThreshold: Schema.optional(Schema.NullOr(Schema.Int)),
  digestWindowS: Schema.optional(Schema.Int),
  enabled: Schema.optional(Schema.Boolean)
}

// Typed as a plain string: a refusal of a non-string URL or secret must not echo what was sent.
const Url = Schema.String.annotations({ message: () => "expected a URL string" })
const Secret = Schema.String.annotations({ message: () => "expected a secret string" })

export const CreateChannelRequest = Schema.Struct({
  name: Schema.String,
  kind: Kind,
  url: Url,
  /** webhook: the signing key `whsec_<base64>` (required); email: the SMTP password; slack: none. Never returned. */
  secret: Schema.optional(Secret),
  /** Omitted: a tenant key's own tenant, a global channel for an admin key; null: global (admin keys only). */
  tenantId: Schema.optional(Schema.NullOr(Tenant)),
  ...Rules
}).annotations(strict)
export type CreateChannelRequest = typeof CreateChannelRequest.Type

export const ChannelPatchBody = Schema.Struct({
  name: Schema.optional(Schema.String),
  url: Schema.optional(Url),
  /** A new secret (rotation), or null to clear it. Never returned. */
  secret: Schema.optional(Schema.NullOr(Secret)),
  ...Rules
}).annotations(strict)
export const UpdateChannelRequest = Schema.Struct({ id: Id, ...ChannelPatchBody.fields }).annotations(strict)
export type UpdateChannelRequest = typeof UpdateChannelRequest.Type

export const ListChannelsRequest = Schema.Struct({
  /** One tenant's channels (not the global ones); a tenant key may name its own only. */
  tenantId: Schema.optional(Tenant)
}).annotations(strict)
export type ListChannelsRequest = typeof ListChannelsRequest.Type

const DeliveryFilterFields = {
  state: Schema.optional(DeliveryState),
  event: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64))),
  /** The previous page's last id: the deliveries before it. */
  before: Schema.optional(Id),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 500)))
}
export const DeliveriesRequest = Schema.Struct({ channelId: Id, ...DeliveryFilterFields }).annotations(strict)
export type DeliveriesRequest = typeof DeliveriesRequest.Type

const IdParam = Schema.NumberFromString.pipe(Schema.compose(Id))
/** The same filter as query parameters. */
export const DeliveriesParams = Schema.Struct({
  ...DeliveryFilterFields,
  before: Schema.optional(IdParam),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.compose(Schema.Int.pipe(Schema.between(1, 500)))))
}).annotations(strict)

export const ChannelView = Schema.Struct({
  id: Schema.Number,
  tenantId: Schema.NullOr(Schema.String),
  name: Schema.String,
  kind: Kind,
  /** An SMTP URL's password is masked. */
  url: Schema.String,
  hasSecret: Schema.Boolean,
  events: Schema.Array(Schema.String),
  errorClasses: Schema.Array(Schema.String),
  minPriority: Schema.Number,
  recipients: Schema.Array(Schema.String),
  sender: Schema.NullOr(Schema.String),
  failingAfter: Schema.Number,
  failingWindowS: Schema.Number,
  dlqThreshold: Schema.NullOr(Schema.Number),
  digestWindowS: Schema.Number,
  enabled: Schema.Boolean,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
})

export const DeliveryView = Schema.Struct({
  id: Schema.Number,
  channelId: Schema.Number,
  tenantId: Schema.NullOr(Schema.String),
  event: Schema.String,
  payload: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  state: DeliveryState,
  attempts: Schema.Number,
  nextAttemptAt: Schema.Date,
  lastStatus: Schema.NullOr(Schema.Number),
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  deliveredAt: Schema.NullOr(Schema.Date),
  sentIn: Schema.NullOr(Schema.Number),
  coalesceKey: Schema.NullOr(Schema.String)
})

export const AttemptView = Schema.Struct({
  id: Schema.Number,
  deliveryId: Schema.Number,
  tenantId: Schema.NullOr(Schema.String),
  attempt: Schema.Number,
  outcome: Schema.Literal("delivered", "failed", "timeout"),
  statusCode: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String),
  durationMs: Schema.Number,
  carried: Schema.Number,
  at: Schema.Date
})

export const TestSent = Schema.Struct({ deliveryId: Schema.Number })
