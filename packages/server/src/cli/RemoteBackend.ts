/**
 * The CLI's Backend over a running server (`--url`/`--key`): every command is an RPC of the typed
 * client (RedriveClient), so the server decides what the key may see and do (row-level security
 * for a tenant key, Forbidden for an admin operation) and records the key's name as the actor
 * (`--by` is the direct mode's). Arguments are decoded here with the wire schemas first, so bad
 * input is refused naming its field before anything is sent; answers are turned back into the
 * models the commands print, so the JSON a command prints is the same in both modes.
 *
 * The key only goes into the Authorization header: transport failures become ServerUnreachable
 * (the URL and a reason), never the request.
 */
import { type RpcClientError } from "@effect/rpc"
import { Control, ControlEvent, type DlqFilter, Input, JobDlq, ReplayRequest } from "@redrive/database"
import { Effect, Layer, Redacted, Schema } from "effect"
import { RedriveClient } from "../rpc/Client.js"
import * as W from "../WireSchemas.js"
import { Backend } from "./Backend.js"
import type * as Connection from "./Connection.js"
import { ServerUnreachable } from "./RemoteErrors.js"

/** An id as the commands take it (`"42"`, or a number): the wire's positive integer. */
const decodeId = Input.decode(Schema.Union(W.Id, W.IdFromPath), "id")
const decodeRequestId = Input.decode(Schema.UUID, "id")

/**
 * The CLI's filter (strings: ISO dates, ids as decimal text) as the wire carries it; a bad value
 * names `filter.<field>`, as the library does in the direct mode.
 */
const decodeFilter = (filter: DlqFilter.DlqFilterInput) =>
  Input.decode(W.DlqFilterRequest, "filter")({
    ...filter,
    ...(filter.dlqFrom instanceof Date ? { dlqFrom: filter.dlqFrom.toISOString() } : {}),
    ...(filter.dlqTo instanceof Date ? { dlqTo: filter.dlqTo.toISOString() } : {}),
    ...(filter.ids !== undefined
      ? { ids: filter.ids.map((id) => (typeof id === "string" && /^\d{1,16}$/.test(id) ? Number(id) : id)) }
      : {})
  })

/** A request decoded with its wire schema: a bad field is InvalidInput naming it (`limit`, `requestId`). */
const request = <A, I>(schema: Schema.Schema<A, I>) => Input.decode(schema, "")

const decodeList = request(Schema.Struct({ limit: W.DlqListRequest.fields.limit, cursor: W.DlqListRequest.fields.cursor }))
const decodeGroups = request(W.ErrorGroupsListRequest)
const decodeReplayOne = request(W.ReplayOneRequest)
const decodeBulk = request(W.BulkReplayRequest)
const decodeCancel = request(W.CancelRequest)
const decodeRetry = request(W.RetryRequest)
const decodePause = request(W.PauseRequest)
const decodeScope = request(W.ScopeRequest)
const decodeCreateKey = request(W.CreateKeyRequest)
const decodeEvents = request(W.ControlEventsRequest)
const decodePurge = request(W.PurgeRequest)

/**
 * The bulk request as the direct mode returns it (the wire's filter holds plain ids, the model's
 * branded ones). An answer that does not decode is a defect: a server of another version.
 */
const toReplayRequest = (status: typeof W.BulkReplayStatus.Type) =>
  Schema.encode(W.BulkReplayStatus)(status).pipe(
    Effect.flatMap(Schema.decodeUnknown(ReplayRequest.ReplayRequest.json)),
    Effect.map((fields) => ReplayRequest.ReplayRequest.make(fields)),
    Effect.orDie
  )

const toControl = (control: typeof W.ControlView.Type) => Control.Control.make(control)

/** The fields that are set: an option not given is an absent wire field, not an `undefined` one. */
const defined = <A extends Record<string, unknown>>(value: A) =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined))

/**
 * What failed, from the client's error down its causes (`Failed to send HTTP request: fetch
 * failed: connect ECONNREFUSED 127.0.0.1:8080`): messages and codes only, never a request.
 */
const reasons = (error: RpcClientError.RpcClientError): string => {
  const parts: Array<string> = []
  let at: unknown = error
  for (let depth = 0; depth < 5 && typeof at === "object" && at !== null; depth++) {
    const message = "message" in at && typeof at.message === "string" ? at.message : ""
    const code = "code" in at && typeof at.code === "string" ? at.code : ""
    const text = message !== "" ? message : code
    if (text !== "" && !parts.includes(text)) parts.push(text)
    at = "cause" in at ? at.cause : undefined
  }
  return parts.join(": ")
}

const make = (remote: Connection.Remote) =>
  Effect.gen(function*() {
    const client = yield* RedriveClient

    /** A transport failure as ServerUnreachable: the URL and its reason, nothing of the request. */
    const reach = <A, E>(effect: Effect.Effect<A, E | RpcClientError.RpcClientError>): Effect.Effect<A, E | ServerUnreachable> =>
      Effect.catchIf(
        effect,
        (e): e is RpcClientError.RpcClientError =>
          typeof e === "object" && e !== null && "_tag" in e && e._tag === "RpcClientError",
        (e) =>
          Effect.fail(new ServerUnreachable({
            url: remote.url,
            message: `no Redrive answer from ${remote.url}: ${reasons(e).split(Redacted.value(remote.key)).join("<key>")}`
          }))
      )

    return Backend.of({
      dlqList: (filter, page) =>
        Effect.gen(function*() {
          const wireFilter = yield* decodeFilter(filter)
          const paging = yield* decodeList(defined({ limit: page.limit, cursor: page.cursor }))
          const answer = yield* reach(client.dlq.list({ filter: wireFilter, ...paging }))
          return { items: answer.items.map((d) => JobDlq.JobDlq.make(d)), nextCursor: answer.nextCursor }
        }),
      dlqGet: (id) =>
        Effect.flatMap(decodeId(id), (wireId) => reach(client.dlq.get({ id: wireId }))).pipe(
          Effect.map((d) => JobDlq.JobDlq.make(d))
        ),
      groups: (input) =>
        Effect.flatMap(decodeGroups(defined({ ...input })), (wire) => reach(client.errorGroups.list(wire))),
      replayOne: (input) =>
        Effect.gen(function*() {
          const wire = yield* decodeReplayOne(defined({
            id: yield* decodeId(input.id),
            payload: input.payload,
            requestId: input.requestId
          }))
          return yield* reach(client.replay.one(wire))
        }),
      bulkCreate: (input) =>
        Effect.gen(function*() {
          const filter = yield* decodeFilter(input.filter)
          // The server scopes a request without one itself: filter.tenantId, else `*` for an admin
          // key, the key's own tenant for a tenant key (so `replay --filter class=…` works for both).
          const scope = input.scopeTenant === (filter.tenantId ?? "*") ? undefined : input.scopeTenant
          const wire = yield* decodeBulk(defined({
            id: input.id,
            filter: Schema.encodeSync(W.DlqFilterRequest)(filter),
            dryRun: input.dryRun,
            scopeTenant: scope
          }))
          return yield* Effect.flatMap(reach(client.replay.bulk(wire)), toReplayRequest)
        }),
      // The server's replay runner runs the request; the command follows it with bulkStatus.
      bulkRun: () => Effect.void,
      bulkStatus: (id) =>
        Effect.flatMap(decodeRequestId(id), (wireId) => reach(client.replay.status({ id: wireId }))).pipe(
          Effect.flatMap(toReplayRequest)
        ),
      bulkCancel: (id) =>
        Effect.flatMap(decodeRequestId(id), (wireId) => reach(client.replay.cancel({ id: wireId }))).pipe(
          Effect.flatMap(toReplayRequest)
        ),
      jobGet: (id) => Effect.flatMap(decodeId(id), (wireId) => reach(client.jobs.get({ id: wireId }))),
      jobCancel: (input) =>
        Effect.gen(function*() {
          const wire = yield* decodeCancel(defined({ id: yield* decodeId(input.id), reason: input.reason, requestId: input.requestId }))
          return yield* reach(client.jobs.cancel(wire))
        }),
      jobRetry: (input) =>
        Effect.gen(function*() {
          const wire = yield* decodeRetry(defined({ id: yield* decodeId(input.id), requestId: input.requestId }))
          return yield* reach(client.jobs.retryNow(wire))
        }),
      pause: (input) =>
        Effect.flatMap(decodePause(defined({ tenantId: input.tenantId, queue: input.queue, reason: input.reason })), (wire) =>
          reach(client.controls.pause(wire))).pipe(
            Effect.map((change) => ({ ...change, control: change.control === null ? null : toControl(change.control) }))
          ),
      resume: (input) =>
        Effect.flatMap(decodeScope(defined({ tenantId: input.tenantId, queue: input.queue })), (wire) =>
          reach(client.controls.resume(wire))).pipe(
            Effect.map((change) => ({ ...change, control: change.control === null ? null : toControl(change.control) }))
          ),
      drain: (input) =>
        Effect.flatMap(decodeScope(defined({ tenantId: input.tenantId, queue: input.queue })), (wire) =>
          reach(client.controls.drain(wire))).pipe(
            Effect.map((change) => ({ ...change, control: change.control === null ? null : toControl(change.control) }))
          ),
      controls: Effect.map(reach(client.controls.list()), (rows) => rows.map(toControl)),
      events: (input) =>
        Effect.flatMap(
          decodeEvents(defined({ tenantId: input.tenantId, queue: input.queue, before: input.before, limit: input.limit })),
          (wire) => reach(client.controls.events(wire))
        ).pipe(Effect.map((rows) => rows.map((e) => ControlEvent.ControlEvent.make(e)))),
      // An admin key's (the server refuses a tenant or read key); `--by` is the key's name there.
      purge: (input) =>
        Effect.gen(function*() {
          const filter = yield* decodeFilter(input.filter)
          const wire = yield* decodePurge(defined({
            filter: Schema.encodeSync(W.DlqFilterRequest)(filter),
            olderThanMs: input.olderThanMs,
            dryRun: input.dryRun,
            reason: input.reason
          }))
          return yield* reach(client.dlq.purge(wire))
        }),
      keysCreate: (input) => Effect.flatMap(decodeCreateKey(defined({ ...input })), (wire) => reach(client.keys.create(wire))),
      keysList: reach(client.keys.list()),
      keysRevoke: (id) => Effect.flatMap(decodeId(id), (wireId) => reach(client.keys.revoke({ id: wireId }))),
      keysRotate: (id) => Effect.flatMap(decodeId(id), (wireId) => reach(client.keys.rotate({ id: wireId })))
    })
  })

/** The Backend at `remote.url`, authenticated with `remote.key` (fetch's HttpClient). */
export const layer = (remote: Connection.Remote) =>
  Layer.effect(Backend, make(remote)).pipe(Layer.provide(RedriveClient.layer({ url: remote.url, key: remote.key })))
