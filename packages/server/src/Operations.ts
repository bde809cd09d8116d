/**
 * Every operation of the server, in one place, for both transports (RPC and HTTP are thin
 * adapters over it). Each takes the authenticated Principal:
 *
 * - a tenant key's reads and writes run under `Tenant.withTenant`, so row-level security decides
 *   what it sees: another tenant's id is not found (404); commands addressed by id (replay,
 *   cancel, retry now) first look the target up under RLS, then go through `JobEntity`, which
 *   persists them and deduplicates them by the caller's `requestId`;
 * - scopes (pause/resume/drain, bulk replay) of a tenant key are its own tenant: naming another
 *   tenant, or `*`, is Forbidden (403) and changes nothing;
 * - a read key may look but not act (Forbidden); key management and DLQ purges are for admin keys only;
 * - alert channels of a tenant key are its own (AlertChannels isolates tenants under withTenant);
 *   `by` is always the key (`key:<name>`), and no answer carries a channel's secret.
 *
 * Database failures are logged here and answered as ServerError, without their detail.
 */
import { Input, JobDlqRepo, StatsRepo, Tenant, type TenantSessions } from "@redrive/database"
import { AlertChannels, Controls, DeadLetterPurge, ErrorGroups, JobCommands, JobEntity, JobRegistry, Replay } from "@redrive/jobs"
import { Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { Forbidden, ServerError } from "./ApiErrors.js"
import { type ApiKeyInfo, ApiKeys, type CreatedKey } from "./auth/ApiKeys.js"
import { actor, type PrincipalData } from "./auth/Principal.js"
import type * as A from "./WireAlerts.js"
import type * as W from "./WireSchemas.js"

type T<S extends Schema.Schema.Any> = Schema.Schema.Type<S>
type Op<I, A> = (principal: PrincipalData, request: I) => Effect.Effect<A, WireError>
type Read<A> = (principal: PrincipalData) => Effect.Effect<A, WireError>

export class Operations extends Context.Tag("@redrive/server/Operations")<Operations, {
  readonly dlqList: Op<W.DlqListInput, T<typeof W.DlqPage>>
  readonly dlqGet: Op<{ readonly id: number }, T<typeof W.DeadLetterView>>
  readonly replayOne: Op<W.ReplayOneRequest, T<typeof W.ReplayOneResult>>
  readonly bulkReplay: Op<W.BulkReplayRequest, T<typeof W.BulkReplayStatus>>
  readonly bulkReplayStatus: Op<{ readonly id: string }, T<typeof W.BulkReplayStatus>>
  readonly bulkReplayCancel: Op<{ readonly id: string }, T<typeof W.BulkReplayStatus>>
  readonly jobGet: Op<{ readonly id: number }, T<typeof W.JobView>>
  readonly jobCancel: Op<W.CancelRequest, JobCommands.CancelResult>
  readonly jobRetryNow: Op<W.RetryRequest, JobCommands.RetryNowResult>
  readonly controlsList: Read<ReadonlyArray<T<typeof W.ControlView>>>
  readonly pause: Op<W.PauseRequest, T<typeof W.ControlChange>>
  readonly resume: Op<W.ScopeRequest, T<typeof W.ControlChange>>
  readonly drain: Op<W.ScopeRequest, T<typeof W.ControlChange>>
  readonly controlEvents: Op<W.ControlEventsRequest, ReadonlyArray<T<typeof W.ControlEventView>>>
  readonly dlqPurge: Op<W.PurgeRequest, T<typeof W.PurgeResult>>
  readonly alertChannelsList: Op<A.ListChannelsRequest, ReadonlyArray<T<typeof A.ChannelView>>>
  readonly alertChannelGet: Op<{ readonly id: number }, T<typeof A.ChannelView>>
  readonly alertChannelCreate: Op<A.CreateChannelRequest, T<typeof A.ChannelView>>
  readonly alertChannelUpdate: Op<A.UpdateChannelRequest, T<typeof A.ChannelView>>
  readonly alertChannelRemove: Op<{ readonly id: number }, void>
  readonly alertDeliveries: Op<A.DeliveriesRequest, ReadonlyArray<T<typeof A.DeliveryView>>>
  readonly alertAttempts: Op<{ readonly id: number }, ReadonlyArray<T<typeof A.AttemptView>>>
  readonly alertSendTest: Op<{ readonly id: number }, T<typeof A.TestSent>>
  readonly errorGroupsList: Op<W.ErrorGroupsListRequest, T<typeof W.ErrorGroupPage>>
  readonly errorGroupGet: Op<W.ErrorGroupKey, T<typeof W.ErrorGroupDetail>>
  readonly mute: Op<W.MuteRequest, T<typeof W.Mute>>
  readonly unmute: Op<W.UnmuteRequest, T<typeof W.Mute>>
  readonly stats: Read<W.Stats>
  readonly statsQueues: Read<W.QueueStats>
  readonly statsTimeline: Op<W.StatsTimelineRequest, W.StatsTimeline>
  readonly session: Read<W.Session>
  readonly keysList: Read<ReadonlyArray<ApiKeyInfo>>
  readonly keysCreate: Op<W.CreateKeyRequest, CreatedKey>
  readonly keysRevoke: Op<{ readonly id: number }, ApiKeyInfo>
  readonly keysRotate: Op<{ readonly id: number }, CreatedKey>
}>() {}
import { WireError } from "./WireErrors.js"


const isWireError = Schema.is(WireError)

/** Errors a caller can act on pass; anything else (the database, the cluster) is logged and becomes ServerError. */
const toWire = (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, WireError, R> =>
  Effect.catchAll(effect, (error): Effect.Effect<never, WireError> =>
    isWireError(error)
      ? Effect.fail(error)
      : Effect.logError(`${operation} failed`, error).pipe(
        Effect.zipRight(Effect.fail(new ServerError({ message: `${operation} failed; the server logged why` })))
      ))

const requireWrite = (p: PrincipalData, what: string) =>
  p.access === "write" ? Effect.void : Effect.fail(new Forbidden({ message: `a read-only key cannot ${what}` }))

const requireAdmin = (p: PrincipalData, what: string) =>
  p.tenant === null ? Effect.void : Effect.fail(new Forbidden({ message: `only an admin key can ${what}` }))

/** A tenant key's scope is its own tenant; omitted means that tenant. */
const tenantScope = (p: PrincipalData, asked: string | undefined) =>
  p.tenant === null
    ? Effect.succeed(asked)
    : asked === undefined || asked === p.tenant
    ? Effect.succeed(p.tenant)
    : Effect.fail(new Forbidden({ message: `a key of tenant ${JSON.stringify(p.tenant)} acts on that tenant only` }))

/** A tenant key may name its own tenant only (a global channel, null, is an admin's). */
const ownTenant = (p: PrincipalData, asked: string | null | undefined) =>
  p.tenant === null || asked === undefined || asked === p.tenant
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `a key of tenant ${JSON.stringify(p.tenant)} acts on that tenant only` }))

/** Under row-level security for a tenant key; as the runtime (every tenant) for an admin key. */
const asPrincipal = <A, E, R>(p: PrincipalData, effect: Effect.Effect<A, E, R>) =>
  p.tenant === null ? effect : Tenant.withTenant(p.tenant, effect)

const make = Effect.gen(function*() {
  const deadLetters = yield* JobDlqRepo.JobDlqRepo
  const replay = yield* Replay.Replay
  const commands = yield* JobCommands.JobCommands
  const controls = yield* Controls.Controls
  const groups = yield* ErrorGroups.ErrorGroups
  const stats = yield* StatsRepo.StatsRepo
  const keys = yield* ApiKeys
  const entity = yield* JobEntity.client
  const sessions = yield* Effect.context<TenantSessions.TenantSessions>()
  const registry = yield* JobRegistry.JobRegistry
  const purger = yield* DeadLetterPurge.DeadLetterPurge
  const channels = yield* AlertChannels.AlertChannels

  /**
   * An edited payload checked before the command is sent: a refused one then leaves no persisted
   * entity message behind (the entity checks again, as every replay does).
   */
  const checkPayload = (type: string, payload: unknown) =>
    Option.match(registry.get(type), {
      onNone: () => Effect.fail(new Replay.UnknownJobType({ type })),
      onSome: (definition) =>
        definition.normalizePayload(payload).pipe(
          Effect.mapError((e) => {
            const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
            const path = (issue?.path ?? []).flatMap((k) => typeof k === "symbol" ? [] : [k])
            return new Replay.InvalidPayload({
              type,
              field: path.length === 0 ? "payload" : path.join("."),
              path,
              message: issue?.message ?? e.message
            })
          }),
          Effect.asVoid
        )
    })

  const run = <A, E>(operation: string, effect: Effect.Effect<A, E, TenantSessions.TenantSessions>) =>
    effect.pipe(Effect.provide(sessions), toWire(operation), Effect.withSpan(`Operations.${operation}`))

  /** The target exists for this principal (RLS for a tenant key), or the not-found error. */
  const ownsJob = (p: PrincipalData, id: number) => asPrincipal(p, commands.get({ kind: "job", id }))
  const ownsDeadLetter = (p: PrincipalData, id: number) => asPrincipal(p, commands.get({ kind: "dead_letter", id }))

  return Operations.of({
    dlqList: (p: PrincipalData, r: W.DlqListInput) =>
      run(
        "dlq.list",
        asPrincipal(p, deadLetters.listPending(r.filter ?? {}, {
          ...(r.limit !== undefined ? { limit: r.limit } : {}),
          ...(r.cursor !== undefined ? { cursor: r.cursor } : {})
        }, { reasonContains: r.reasonContains }))
      ),

    dlqGet: (p: PrincipalData, r: { readonly id: number }) =>
      run(
        "dlq.get",
        Effect.flatMap(ownsDeadLetter(p, r.id), (view) =>
          view.kind === "dead_letter" ? Effect.succeed(view.deadLetter) : Effect.dieMessage("a dead letter was asked for"))
      ),

    replayOne: (p: PrincipalData, r: W.ReplayOneRequest) =>
      run(
        "replay.one",
        Effect.gen(function*() {
          yield* requireWrite(p, "replay")
          const view = yield* ownsDeadLetter(p, r.id)
          if (view.kind !== "dead_letter") return yield* Effect.dieMessage("a dead letter was asked for")
          if (r.payload !== undefined) yield* checkPayload(view.deadLetter.type, r.payload)
          return yield* entity.replay(view.deadLetter.id, {
            requestId: r.requestId ?? randomUUID(),
            by: actor(p),
            ...(r.payload !== undefined ? { payload: r.payload } : {})
          })
        })
      ),

    bulkReplay: (p: PrincipalData, r: W.BulkReplayRequest) =>
      run(
        "replay.bulk",
        Effect.gen(function*() {
          // A dry run only counts: a read key may ask for one.
          if (r.dryRun !== true) yield* requireWrite(p, "replay")
          const scope = (yield* tenantScope(p, r.scopeTenant)) ?? r.filter.tenantId ?? "*"
          return yield* asPrincipal(
            p,
            replay.createBulk({
              ...(r.id !== undefined ? { id: r.id } : {}),
              filter: r.filter,
              scopeTenant: scope,
              dryRun: r.dryRun ?? false,
              ...(r.ratePerSec !== undefined ? { ratePerSec: r.ratePerSec } : {}),
              requestedBy: actor(p)
            })
          )
        })
      ),

    bulkReplayStatus: (p: PrincipalData, r: { readonly id: string }) =>
      run("replay.status", asPrincipal(p, replay.get(r.id))),

    bulkReplayCancel: (p: PrincipalData, r: { readonly id: string }) =>
      run("replay.cancel", Effect.zipRight(requireWrite(p, "cancel a replay"), asPrincipal(p, replay.cancel(r.id)))),

    jobGet: (p: PrincipalData, r: { readonly id: number }) =>
      run(
        "jobs.get",
        Effect.flatMap(ownsJob(p, r.id), (view) =>
          view.kind === "job" ? Effect.succeed(view.job) : Effect.dieMessage("a job was asked for"))
      ),

    jobCancel: (p: PrincipalData, r: W.CancelRequest) =>
      run(
        "jobs.cancel",
        Effect.gen(function*() {
          yield* requireWrite(p, "cancel a job")
          const view = yield* ownsJob(p, r.id)
          if (view.kind !== "job") return yield* Effect.dieMessage("a job was asked for")
          return yield* entity.cancel(view.job.id, {
            requestId: r.requestId ?? randomUUID(),
            by: actor(p),
            reason: r.reason
          })
        })
      ),

    jobRetryNow: (p: PrincipalData, r: W.RetryRequest) =>
      run(
        "jobs.retryNow",
        Effect.gen(function*() {
          yield* requireWrite(p, "retry a job")
          const view = yield* ownsJob(p, r.id)
          if (view.kind !== "job") return yield* Effect.dieMessage("a job was asked for")
          return yield* entity.retryNow(view.job.id, { requestId: r.requestId ?? randomUUID(), by: actor(p) })
        })
      ),

    controlsList: (p: PrincipalData) => run("controls.list", asPrincipal(p, controls.list)),

    pause: (p: PrincipalData, r: W.PauseRequest) =>
      run(
        "controls.pause",
        Effect.gen(function*() {
          yield* requireWrite(p, "pause")
          const tenantId = yield* tenantScope(p, r.tenantId)
          // The control functions run as the runtime (a tenant cannot write controls itself); the scope is pinned above.
          return yield* controls.pause({
            ...(tenantId !== undefined ? { tenantId } : {}),
            ...(r.queue !== undefined ? { queue: r.queue } : {}),
            reason: r.reason,
            by: actor(p)
          })
        })
      ),

    resume: (p: PrincipalData, r: W.ScopeRequest) =>
      run(
        "controls.resume",
        Effect.gen(function*() {
          yield* requireWrite(p, "resume")
          const tenantId = yield* tenantScope(p, r.tenantId)
          return yield* controls.resume({
            ...(tenantId !== undefined ? { tenantId } : {}),
            ...(r.queue !== undefined ? { queue: r.queue } : {}),
            by: actor(p)
          })
        })
      ),

    drain: (p: PrincipalData, r: W.ScopeRequest) =>
      run(
        "controls.drain",
        Effect.gen(function*() {
          yield* requireWrite(p, "drain")
          const tenantId = yield* tenantScope(p, r.tenantId)
          return yield* controls.drain({
            ...(tenantId !== undefined ? { tenantId } : {}),
            ...(r.queue !== undefined ? { queue: r.queue } : {}),
            by: actor(p)
          })
        })
      ),

    controlEvents: (p: PrincipalData, r: W.ControlEventsRequest) =>
      run(
        "controls.events",
        Effect.gen(function*() {
          const asked = yield* tenantScope(p, r.tenantId)
          // No scope asked: every event the key sees (row-level security narrows a tenant key's to its tenant).
          const scoped = r.tenantId !== undefined || r.queue !== undefined
          return yield* asPrincipal(
            p,
            controls.events({
              ...(scoped && asked !== undefined ? { tenantId: asked } : {}),
              ...(r.queue !== undefined ? { queue: r.queue } : {}),
              ...(r.before !== undefined ? { before: r.before } : {}),
              ...(r.limit !== undefined ? { limit: r.limit } : {})
            })
          )
        })
      ),

    dlqPurge: (p: PrincipalData, r: W.PurgeRequest) =>
      run(
        "dlq.purge",
        Effect.gen(function*() {
          yield* requireAdmin(p, "purge dead letters")
          yield* requireWrite(p, "purge dead letters")
          if (Object.keys(r.filter).length === 0 && r.olderThanMs === undefined) {
            return yield* new Input.InvalidInput({
              field: "filter",
              message: "filter: a purge needs a filter or olderThanMs (it never deletes every dead letter by default)"
            })
          }
          return yield* purger.purge({
            filter: r.filter,
            olderThan: r.olderThanMs,
            dryRun: r.dryRun ?? false,
            by: actor(p),
            reason: r.reason
          })
        })
      ),

    alertChannelsList: (p: PrincipalData, r: A.ListChannelsRequest) =>
      run("alertChannels.list", Effect.zipRight(ownTenant(p, r.tenantId), asPrincipal(p, channels.list(r)))),

    alertChannelGet: (p: PrincipalData, r: { readonly id: number }) =>
      run("alertChannels.get", asPrincipal(p, channels.get(r.id))),

    alertChannelCreate: (p: PrincipalData, r: A.CreateChannelRequest) =>
      run(
        "alertChannels.create",
        Effect.gen(function*() {
          yield* requireWrite(p, "create alert channels")
          yield* ownTenant(p, r.tenantId)
          return yield* asPrincipal(p, channels.create({ ...r, by: actor(p) }))
        })
      ),

    alertChannelUpdate: (p: PrincipalData, { id, ...patch }: A.UpdateChannelRequest) =>
      run(
        "alertChannels.update",
        Effect.zipRight(requireWrite(p, "change alert channels"), asPrincipal(p, channels.update(id, { ...patch, by: actor(p) })))
      ),

    alertChannelRemove: (p: PrincipalData, r: { readonly id: number }) =>
      run(
        "alertChannels.remove",
        Effect.zipRight(requireWrite(p, "remove alert channels"), asPrincipal(p, channels.remove(r.id, { by: actor(p) })))
      ),

    alertDeliveries: (p: PrincipalData, { channelId, ...filter }: A.DeliveriesRequest) =>
      run(
        "alertChannels.deliveries",
        // The channel first: another tenant's is not found (404), not an empty page.
        asPrincipal(p, Effect.zipRight(channels.get(channelId), channels.deliveries({ ...filter, channelId })))
      ),

    alertAttempts: (p: PrincipalData, r: { readonly id: number }) =>
      run("alertChannels.attempts", asPrincipal(p, channels.attempts(r.id))),

    alertSendTest: (p: PrincipalData, r: { readonly id: number }) =>
      run(
        "alertChannels.sendTest",
        Effect.zipRight(requireWrite(p, "send test alerts"), asPrincipal(p, channels.sendTest({ channelId: r.id, by: actor(p) })))
      ),

    errorGroupsList: (p: PrincipalData, r: W.ErrorGroupsListRequest) =>
      run("errorGroups.list", asPrincipal(p, groups.list(r))),

    errorGroupGet: (p: PrincipalData, r: W.ErrorGroupKey) =>
      run("errorGroups.get", asPrincipal(p, groups.get(r))),

    mute: (p: PrincipalData, r: W.MuteRequest) =>
      run(
        "errorGroups.mute",
        Effect.zipRight(
          requireWrite(p, "mute"),
          asPrincipal(p, groups.mute({ ...r, duration: `${r.minutes} minutes`, by: actor(p) }))
        )
      ),

    unmute: (p: PrincipalData, r: W.UnmuteRequest) =>
      run("errorGroups.unmute", Effect.zipRight(requireWrite(p, "unmute"), asPrincipal(p, groups.unmute({ ...r, by: actor(p) })))),

    stats: (p: PrincipalData) =>
      run("stats", asPrincipal(p, Effect.all({ queues: stats.queueHealth, failures: stats.failureStats }))),

    statsQueues: (p: PrincipalData) =>
      run("stats.queues", asPrincipal(p, Effect.map(stats.queueHealth, (queues) => ({ queues })))),

    statsTimeline: (p: PrincipalData, r: W.StatsTimelineRequest) =>
      run(
        "stats.timeline",
        Effect.flatMap(
          tenantScope(p, r.tenantId),
          (tenantId) => asPrincipal(p, stats.timeline({ minutes: r.minutes ?? 60, tenantId }))
        ).pipe(Effect.map((buckets) => ({ buckets })))
      ),

    session: (p: PrincipalData) => Effect.succeed({ name: p.name, tenant: p.tenant, access: p.access }),

    keysList: (p: PrincipalData) => run("keys.list", Effect.zipRight(requireAdmin(p, "list keys"), keys.list())),

    keysCreate: (p: PrincipalData, r: W.CreateKeyRequest) =>
      run(
        "keys.create",
        Effect.gen(function*() {
          yield* requireAdmin(p, "create keys")
          yield* requireWrite(p, "create keys")
          return yield* keys.create({
            name: r.name,
            ...(r.tenant !== undefined ? { tenant: r.tenant } : {}),
            ...(r.access !== undefined ? { access: r.access } : {})
          })
        })
      ),

    keysRevoke: (p: PrincipalData, r: { readonly id: number }) =>
      run(
        "keys.revoke",
        Effect.zipRight(Effect.zipRight(requireAdmin(p, "revoke keys"), requireWrite(p, "revoke keys")), keys.revoke(r))
      ),

    keysRotate: (p: PrincipalData, r: { readonly id: number }) =>
      run(
        "keys.rotate",
        Effect.zipRight(Effect.zipRight(requireAdmin(p, "rotate keys"), requireWrite(p, "rotate keys")), keys.rotate(r))
      )
  })
})

/** Needs Redrive.layer's services, DeadLetterPurge, StatsRepo, ApiKeys and a Sharding (JobEntity's client). */
export const layer = Layer.effect(Operations, make)
