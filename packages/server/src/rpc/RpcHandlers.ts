/** The RPC group's handlers: each reads the caller's Principal and calls its Operation. */
import { Effect, Layer } from "effect"
import * as Authenticate from "../auth/Authenticate.js"
import * as Bearer from "../auth/Bearer.js"
import { Principal } from "../auth/Principal.js"
import { Operations } from "../Operations.js"
import { Authentication, RedriveRpcs } from "./RedriveRpcs.js"

export const layerAuthentication = Layer.effect(
  Authentication,
  Effect.map(Authenticate.make, (authenticate) => Authentication.of(({ headers }) => authenticate(Bearer.fromHeaders(headers))))
)

export const layerHandlers = RedriveRpcs.toLayer(Effect.gen(function*() {
  const ops = yield* Operations
  const as = <I, A, E>(op: (p: typeof Principal.Service, input: I) => Effect.Effect<A, E>) => (input: I) =>
    Effect.flatMap(Principal, (p) => op(p, input))
  const read = <A, E>(op: (p: typeof Principal.Service) => Effect.Effect<A, E>) => () => Effect.flatMap(Principal, op)
  return RedriveRpcs.of({
    "dlq.list": as(ops.dlqList),
    "dlq.get": as(ops.dlqGet),
    "dlq.purge": as(ops.dlqPurge),
    "errorGroups.list": as(ops.errorGroupsList),
    "errorGroups.get": as(ops.errorGroupGet),
    "errorGroups.mute": as(ops.mute),
    "errorGroups.unmute": as(ops.unmute),
    "replay.one": as(ops.replayOne),
    "replay.bulk": as(ops.bulkReplay),
    "replay.status": as(ops.bulkReplayStatus),
    "replay.cancel": as(ops.bulkReplayCancel),
    "jobs.get": as(ops.jobGet),
    "jobs.cancel": as(ops.jobCancel),
    "jobs.retryNow": as(ops.jobRetryNow),
    "controls.list": read(ops.controlsList),
    "controls.pause": as(ops.pause),
    "controls.resume": as(ops.resume),
    "controls.drain": as(ops.drain),
    "controls.events": as(ops.controlEvents),
    "alertChannels.list": as(ops.alertChannelsList),
    "alertChannels.get": as(ops.alertChannelGet),
    "alertChannels.create": as(ops.alertChannelCreate),
    "alertChannels.update": as(ops.alertChannelUpdate),
    "alertChannels.remove": as(ops.alertChannelRemove),
    "alertChannels.deliveries": as(ops.alertDeliveries),
    "alertChannels.attempts": as(ops.alertAttempts),
    "alertChannels.sendTest": as(ops.alertSendTest),
    "stats.get": read(ops.stats),
    "keys.list": read(ops.keysList),
    "keys.create": as(ops.keysCreate),
    "keys.revoke": as(ops.keysRevoke),
    "keys.rotate": as(ops.keysRotate)
  })
}))
