/**
 * The HTTP API: the same operations as the RPC group, REST-shaped under `/v1`, bearer-authenticated,
 * with its OpenAPI document at `/openapi.json`. Every request schema refuses unknown fields and
 * reports every problem (WireSchemas.strict).
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import * as JobCommands from "@redrive/jobs/JobCommandResults"
import { Schema } from "effect"
import { ApiKeyInfo, CreatedKey } from "../auth/ApiKeyViews.js"
import * as A from "../WireAlerts.js"
import * as W from "../WireSchemas.js"
import { WireError } from "../WireErrors.js"
import { Authorization } from "./Authorization.js"

/** A body that may be left out (an empty body arrives as null). */
const OptionalBody = <S extends Schema.Schema.Any>(body: S) => Schema.Union(body, Schema.Null)

const IdPath = Schema.Struct({ id: W.IdFromPath }).annotations(W.strict)
const UuidPath = Schema.Struct({ id: Schema.UUID }).annotations(W.strict)
const Cursor = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096))
const LimitParam = Schema.NumberFromString.pipe(Schema.compose(Schema.Int.pipe(Schema.between(1, 500))))

/** The DLQ filter as query parameters; `ids` is a comma-separated list. */
export const DlqListParams = Schema.Struct({
  tenantId: Schema.optional(W.StoredTenant),
  queue: Schema.optional(W.Queue),
  type: Schema.optional(W.JobType),
  errorClass: Schema.optional(W.ErrorClass),
  fingerprint: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))),
  dlqFrom: Schema.optional(Schema.Date),
  dlqTo: Schema.optional(Schema.Date),
  /** Free text, case-insensitive, in the dead letter's reason (this listing only). */
  reason: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))),
  ids: Schema.optional(Schema.split(",").pipe(Schema.compose(Schema.Array(W.IdFromPath).pipe(Schema.maxItems(1000))))),
  limit: Schema.optional(LimitParam),
  cursor: Schema.optional(Cursor)
}).annotations(W.strict)

export const ErrorGroupsParams = Schema.Struct({
  tenantId: Schema.optional(W.StoredTenant),
  type: Schema.optional(W.JobType),
  errorClass: Schema.optional(W.ErrorClass),
  orderBy: Schema.optional(Schema.Literal("lastSeen", "count")),
  limit: Schema.optional(LimitParam),
  cursor: Schema.optional(Cursor),
  includeEmpty: Schema.optional(Schema.BooleanFromString)
}).annotations(W.strict)

export class DeadLetters extends HttpApiGroup.make("deadLetters")
  .add(HttpApiEndpoint.get("list", "/dead-letters").setUrlParams(DlqListParams).addSuccess(W.DlqPage))
  .add(HttpApiEndpoint.get("get", "/dead-letters/:id").setPath(IdPath).addSuccess(W.DeadLetterView))
  .add(HttpApiEndpoint.post("purge", "/dead-letters/purge").setPayload(W.PurgeRequest).addSuccess(W.PurgeResult))
  .add(
    HttpApiEndpoint.post("replay", "/dead-letters/:id/replay").setPath(IdPath).setPayload(OptionalBody(W.ReplayOneBody))
      .addSuccess(W.ReplayOneResult)
  )
  .annotate(
    OpenApi.Description,
    "Dead letters: newest first, keyset pages; replay one (idempotent per requestId); purge (admin keys, audited; dryRun counts)."
  )
{}

export class Replays extends HttpApiGroup.make("replays")
  .add(HttpApiEndpoint.post("create", "/replays").setPayload(W.BulkReplayRequest).addSuccess(W.BulkReplayStatus, { status: 202 }))
  .add(HttpApiEndpoint.get("get", "/replays/:id").setPath(UuidPath).addSuccess(W.BulkReplayStatus))
  .add(HttpApiEndpoint.post("cancel", "/replays/:id/cancel").setPath(UuidPath).addSuccess(W.BulkReplayStatus))
  .annotate(OpenApi.Description, "Bulk replays: durable requests with progress (matched, replayed); dryRun only counts.")
{}

export class Jobs extends HttpApiGroup.make("jobs")
  .add(HttpApiEndpoint.get("get", "/jobs/:id").setPath(IdPath).addSuccess(W.JobView))
  .add(HttpApiEndpoint.post("cancel", "/jobs/:id/cancel").setPath(IdPath).setPayload(OptionalBody(W.CancelBody)).addSuccess(JobCommands.CancelResult))
  .add(HttpApiEndpoint.post("retry", "/jobs/:id/retry").setPath(IdPath).setPayload(OptionalBody(W.RetryBody)).addSuccess(JobCommands.RetryNowResult))
{}

/** The audit trail's scope and keyset as query parameters. */
export const ControlEventsParams = Schema.Struct({
  tenantId: W.ControlEventsRequest.fields.tenantId,
  queue: W.ControlEventsRequest.fields.queue,
  before: Schema.optional(W.IdFromPath),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.compose(Schema.Int.pipe(Schema.between(1, 1000)))))
}).annotations(W.strict)

export class Controls extends HttpApiGroup.make("controls")
  .add(HttpApiEndpoint.get("list", "/controls").addSuccess(Schema.Array(W.ControlView)))
  .add(HttpApiEndpoint.get("events", "/controls/events").setUrlParams(ControlEventsParams).addSuccess(Schema.Array(W.ControlEventView)))
  .add(HttpApiEndpoint.post("pause", "/controls/pause").setPayload(W.PauseRequest).addSuccess(W.ControlChange))
  .add(HttpApiEndpoint.post("resume", "/controls/resume").setPayload(W.ScopeRequest).addSuccess(W.ControlChange))
  .add(HttpApiEndpoint.post("drain", "/controls/drain").setPayload(W.ScopeRequest).addSuccess(W.ControlChange))
  .annotate(OpenApi.Description, "Pause, resume and drain a scope (tenant, queue; `*` for every one). Tenant keys act on their own tenant only.")
{}

export class ErrorGroups extends HttpApiGroup.make("errorGroups")
  .add(HttpApiEndpoint.get("list", "/error-groups").setUrlParams(ErrorGroupsParams).addSuccess(W.ErrorGroupPage))
  .add(HttpApiEndpoint.post("get", "/error-groups/get").setPayload(W.ErrorGroupKey).addSuccess(W.ErrorGroupDetail))
  .add(HttpApiEndpoint.post("mute", "/error-groups/mute").setPayload(W.MuteRequest).addSuccess(W.Mute))
  .add(HttpApiEndpoint.post("unmute", "/error-groups/unmute").setPayload(W.UnmuteRequest).addSuccess(W.Mute))
{}

export class AlertChannels extends HttpApiGroup.make("alertChannels")
  .add(HttpApiEndpoint.get("list", "/alert-channels").setUrlParams(A.ListChannelsRequest).addSuccess(Schema.Array(A.ChannelView)))
  .add(HttpApiEndpoint.post("create", "/alert-channels").setPayload(A.CreateChannelRequest).addSuccess(A.ChannelView, { status: 201 }))
  .add(HttpApiEndpoint.get("get", "/alert-channels/:id").setPath(IdPath).addSuccess(A.ChannelView))
  .add(HttpApiEndpoint.patch("update", "/alert-channels/:id").setPath(IdPath).setPayload(A.ChannelPatchBody).addSuccess(A.ChannelView))
  .add(HttpApiEndpoint.del("remove", "/alert-channels/:id").setPath(IdPath))
  .add(
    HttpApiEndpoint.get("deliveries", "/alert-channels/:id/deliveries").setPath(IdPath).setUrlParams(A.DeliveriesParams)
      .addSuccess(Schema.Array(A.DeliveryView))
  )
  .add(HttpApiEndpoint.get("attempts", "/alert-deliveries/:id/attempts").setPath(IdPath).addSuccess(Schema.Array(A.AttemptView)))
  .add(HttpApiEndpoint.post("test", "/alert-channels/:id/test").setPath(IdPath).addSuccess(A.TestSent, { status: 202 }))
  .annotate(
    OpenApi.Description,
    "Alert channels (webhook, Slack, email), their deliveries and tries, a test alert. The secret is write-only: never returned (`hasSecret`)."
  )
{}

/** The timeline's query parameters: the numbers arrive as strings. */
export const StatsTimelineParams = Schema.Struct({
  minutes: Schema.optional(Schema.NumberFromString.pipe(Schema.compose(W.StatsTimelineRequest.fields.minutes.from))),
  tenantId: W.StatsTimelineRequest.fields.tenantId
}).annotations(W.strict)

export class Stats extends HttpApiGroup.make("stats")
  .add(HttpApiEndpoint.get("get", "/stats").addSuccess(W.Stats))
  .add(HttpApiEndpoint.get("queues", "/stats/queues").addSuccess(W.QueueStats))
  .add(HttpApiEndpoint.get("timeline", "/stats/timeline").setUrlParams(StatsTimelineParams).addSuccess(W.StatsTimeline))
  .annotate(
    OpenApi.Description,
    "The queue_health and failure_stats views, and failures per minute from the failure_stat counters (a tenant key sees its own rows)."
  )
{}

export class Session extends HttpApiGroup.make("session")
  .add(HttpApiEndpoint.get("get", "/session").addSuccess(W.Session))
  .annotate(OpenApi.Description, "The calling key: its name, tenant (null: admin) and access. The console reads it to show what the key may do.")
{}

export class Keys extends HttpApiGroup.make("keys")
  .add(HttpApiEndpoint.get("list", "/keys").addSuccess(Schema.Array(ApiKeyInfo)))
  .add(HttpApiEndpoint.post("create", "/keys").setPayload(W.CreateKeyRequest).addSuccess(CreatedKey, { status: 201 }))
  .add(HttpApiEndpoint.post("revoke", "/keys/:id/revoke").setPath(IdPath).addSuccess(ApiKeyInfo))
  .add(HttpApiEndpoint.post("rotate", "/keys/:id/rotate").setPath(IdPath).addSuccess(CreatedKey, { status: 201 }))
  .annotate(OpenApi.Description, "API keys (admin keys only). The secret is returned once, at creation or rotation.")
{}

export class RedriveApi extends HttpApi.make("redrive")
  .add(DeadLetters)
  .add(Replays)
  .add(Jobs)
  .add(Controls)
  .add(ErrorGroups)
  .add(AlertChannels)
  .add(Stats)
  .add(Keys)
  .add(Session)
  .addError(WireError)
  .middleware(Authorization)
  .prefix("/v1")
  .annotate(OpenApi.Title, "Redrive")
  .annotate(OpenApi.Description, "Dead letters, replay, purge, job commands, tenant controls and alert channels of Redrive. Authorization: Bearer <API key>.")
{}
