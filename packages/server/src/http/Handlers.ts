/** The HTTP API's handlers: each reads the caller's Principal and calls its Operation. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { Principal, type PrincipalData } from "../auth/Principal.js"
import { Operations } from "../Operations.js"
import { RedriveApi } from "./Api.js"

const as = <A, E>(f: (p: PrincipalData) => Effect.Effect<A, E>) => Effect.flatMap(Principal, f)

const deadLetters = HttpApiBuilder.group(RedriveApi, "deadLetters", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("list", ({ urlParams: { cursor, limit, reason, ...filter } }) =>
        as((p) =>
          ops.dlqList(p, {
            filter,
            reasonContains: reason,
            ...(limit !== undefined ? { limit } : {}),
            ...(cursor !== undefined ? { cursor } : {})
          })
        ))
      .handle("get", ({ path }) => as((p) => ops.dlqGet(p, path)))
      .handle("purge", ({ payload }) => as((p) => ops.dlqPurge(p, payload)))
      .handle("replay", ({ path, payload }) => as((p) => ops.replayOne(p, { ...(payload ?? {}), id: path.id })))))

const replays = HttpApiBuilder.group(RedriveApi, "replays", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("create", ({ payload }) => as((p) => ops.bulkReplay(p, payload)))
      .handle("get", ({ path }) => as((p) => ops.bulkReplayStatus(p, path)))
      .handle("cancel", ({ path }) => as((p) => ops.bulkReplayCancel(p, path)))))

const jobs = HttpApiBuilder.group(RedriveApi, "jobs", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("get", ({ path }) => as((p) => ops.jobGet(p, path)))
      .handle("cancel", ({ path, payload }) => as((p) => ops.jobCancel(p, { ...(payload ?? {}), id: path.id })))
      .handle("retry", ({ path, payload }) => as((p) => ops.jobRetryNow(p, { ...(payload ?? {}), id: path.id })))))

const controls = HttpApiBuilder.group(RedriveApi, "controls", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("list", () => as(ops.controlsList))
      .handle("events", ({ urlParams }) => as((p) => ops.controlEvents(p, urlParams)))
      .handle("pause", ({ payload }) => as((p) => ops.pause(p, payload)))
      .handle("resume", ({ payload }) => as((p) => ops.resume(p, payload)))
      .handle("drain", ({ payload }) => as((p) => ops.drain(p, payload)))))

const errorGroups = HttpApiBuilder.group(RedriveApi, "errorGroups", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("list", ({ urlParams }) => as((p) => ops.errorGroupsList(p, urlParams)))
      .handle("get", ({ payload }) => as((p) => ops.errorGroupGet(p, payload)))
      .handle("mute", ({ payload }) => as((p) => ops.mute(p, payload)))
      .handle("unmute", ({ payload }) => as((p) => ops.unmute(p, payload)))))

const alertChannels = HttpApiBuilder.group(RedriveApi, "alertChannels", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("list", ({ urlParams }) => as((p) => ops.alertChannelsList(p, urlParams)))
      .handle("create", ({ payload }) => as((p) => ops.alertChannelCreate(p, payload)))
      .handle("get", ({ path }) => as((p) => ops.alertChannelGet(p, path)))
      .handle("update", ({ path, payload }) => as((p) => ops.alertChannelUpdate(p, { ...payload, id: path.id })))
      .handle("remove", ({ path }) => as((p) => ops.alertChannelRemove(p, path)))
      .handle("deliveries", ({ path, urlParams }) => as((p) => ops.alertDeliveries(p, { ...urlParams, channelId: path.id })))
      .handle("attempts", ({ path }) => as((p) => ops.alertAttempts(p, path)))
      .handle("test", ({ path }) => as((p) => ops.alertSendTest(p, path)))))

const stats = HttpApiBuilder.group(RedriveApi, "stats", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("get", () => as(ops.stats))
      .handle("queues", () => as(ops.statsQueues))
      .handle("timeline", ({ urlParams }) => as((p) => ops.statsTimeline(p, urlParams)))))

const session = HttpApiBuilder.group(RedriveApi, "session", (h) =>
  Effect.map(Operations, (ops) => h.handle("get", () => as(ops.session))))

const keys = HttpApiBuilder.group(RedriveApi, "keys", (h) =>
  Effect.map(Operations, (ops) =>
    h
      .handle("list", () => as(ops.keysList))
      .handle("create", ({ payload }) => as((p) => ops.keysCreate(p, payload)))
      .handle("revoke", ({ path }) => as((p) => ops.keysRevoke(p, path)))
      .handle("rotate", ({ path }) => as((p) => ops.keysRotate(p, path)))))

/** Every group's handlers; needs Operations. */
export const layer = Layer.mergeAll(deadLetters, replays, jobs, controls, errorGroups, alertChannels, stats, keys, session)
