/**
 * The Effect RPC group of Redrive's server, served at `/rpc` (JSON over HTTP) with the bearer key
 * in the `authorization` header. Names are prefixed by area, so the typed client reads
 * `client.dlq.list(...)`, `client.replay.one(...)`, `client.controls.pause(...)`.
 */
import { Rpc, RpcGroup, RpcMiddleware } from "@effect/rpc"
import { Schema } from "effect"
import { JobCommands } from "@redrive/jobs"
import { ServerError, Unauthenticated } from "../ApiErrors.js"
import { ApiKeyInfo, CreatedKey } from "../auth/ApiKeyViews.js"
import { Principal } from "../auth/Principal.js"
import * as A from "../WireAlerts.js"
import * as W from "../WireSchemas.js"
import { WireError } from "../WireErrors.js"

/** Authenticates every call; handlers read the Principal it provides. */
export class Authentication extends RpcMiddleware.Tag<Authentication>()("@redrive/server/rpc/Authentication", {
  provides: Principal,
  failure: Schema.Union(Unauthenticated, ServerError)
}) {}

export class RedriveRpcs extends RpcGroup.make(
  Rpc.make("dlq.list", { payload: W.DlqListRequest, success: W.DlqPage, error: WireError }),
  Rpc.make("dlq.get", { payload: W.ByIdRequest, success: W.DeadLetterView, error: WireError }),
  Rpc.make("dlq.purge", { payload: W.PurgeRequest, success: W.PurgeResult, error: WireError }),
  Rpc.make("errorGroups.list", { payload: W.ErrorGroupsListRequest, success: W.ErrorGroupPage, error: WireError }),
  Rpc.make("errorGroups.get", { payload: W.ErrorGroupKey, success: W.ErrorGroupDetail, error: WireError }),
  Rpc.make("errorGroups.mute", { payload: W.MuteRequest, success: W.Mute, error: WireError }),
  Rpc.make("errorGroups.unmute", { payload: W.UnmuteRequest, success: W.Mute, error: WireError }),
  Rpc.make("replay.one", { payload: W.ReplayOneRequest, success: W.ReplayOneResult, error: WireError }),
  Rpc.make("replay.bulk", { payload: W.BulkReplayRequest, success: W.BulkReplayStatus, error: WireError }),
  Rpc.make("replay.status", { payload: W.ReplayRequestIdRequest, success: W.BulkReplayStatus, error: WireError }),
  Rpc.make("replay.cancel", { payload: W.ReplayRequestIdRequest, success: W.BulkReplayStatus, error: WireError }),
  Rpc.make("jobs.get", { payload: W.ByIdRequest, success: W.JobView, error: WireError }),
  Rpc.make("jobs.cancel", { payload: W.CancelRequest, success: JobCommands.CancelResult, error: WireError }),
  Rpc.make("jobs.retryNow", { payload: W.RetryRequest, success: JobCommands.RetryNowResult, error: WireError }),
  Rpc.make("controls.list", { success: Schema.Array(W.ControlView), error: WireError }),
  Rpc.make("controls.pause", { payload: W.PauseRequest, success: W.ControlChange, error: WireError }),
  Rpc.make("controls.resume", { payload: W.ScopeRequest, success: W.ControlChange, error: WireError }),
  Rpc.make("controls.drain", { payload: W.ScopeRequest, success: W.ControlChange, error: WireError }),
  Rpc.make("controls.events", { payload: W.ControlEventsRequest, success: Schema.Array(W.ControlEventView), error: WireError }),
  Rpc.make("alertChannels.list", { payload: A.ListChannelsRequest, success: Schema.Array(A.ChannelView), error: WireError }),
  Rpc.make("alertChannels.get", { payload: W.ByIdRequest, success: A.ChannelView, error: WireError }),
  Rpc.make("alertChannels.create", { payload: A.CreateChannelRequest, success: A.ChannelView, error: WireError }),
  Rpc.make("alertChannels.update", { payload: A.UpdateChannelRequest, success: A.ChannelView, error: WireError }),
  Rpc.make("alertChannels.remove", { payload: W.ByIdRequest, error: WireError }),
  Rpc.make("alertChannels.deliveries", { payload: A.DeliveriesRequest, success: Schema.Array(A.DeliveryView), error: WireError }),
  Rpc.make("alertChannels.attempts", { payload: W.ByIdRequest, success: Schema.Array(A.AttemptView), error: WireError }),
  Rpc.make("alertChannels.sendTest", { payload: W.ByIdRequest, success: A.TestSent, error: WireError }),
  Rpc.make("stats.get", { success: W.Stats, error: WireError }),
  Rpc.make("keys.list", { success: Schema.Array(ApiKeyInfo), error: WireError }),
  Rpc.make("keys.create", { payload: W.CreateKeyRequest, success: CreatedKey, error: WireError }),
  Rpc.make("keys.revoke", { payload: W.ByIdRequest, success: ApiKeyInfo, error: WireError }),
  Rpc.make("keys.rotate", { payload: W.ByIdRequest, success: CreatedKey, error: WireError })
).middleware(Authentication) {}
