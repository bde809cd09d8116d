/**
 * Alert channels as operators, the HTTP API and the console manage them: create, list, get,
 * update (a secret is rotated by setting a new one), remove, the deliveries of a channel with
 * their tries, and a test alert (`alert.test`, sent by the dispatcher like any other).
 *
 * Input is decoded at the boundary (ChannelInput.ts: InvalidInput naming the field). The secret
 * is write-only: no result, log, span or error carries it (`hasSecret` says whether there is
 * one; a password in an SMTP URL is masked). Every change is audited in alert_channel_event with
 * its `by`, in the statement that makes it.
 *
 * Tenancy: inside `Tenant.withTenant` a tenant sees its own channels only (row-level security)
 * and changes them through `Tenant.onRuntime`, pinned to the block's tenant (the tenant role may
 * only read alert_channel); it cannot create, see or change a global channel.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DatabaseError as DbError, Ids, Input, Tenant } from "@redrive/database"
import { Context, Effect, FiberRef, Layer, Option, Schema } from "effect"
import * as ChannelSql from "../internal/alertChannelSql.js"
import { AlertEventName } from "./AlertEvent.js"
import {
  type ChannelPatch,
  checkState,
  type CreateChannelInput,
  decodeCreate,
  decodePatch,
  fieldsOf,
  maskUrl
} from "./ChannelInput.js"
import { AlertChannelNotFound, AlertDeliveryNotFound } from "../OperationErrors.js"
export { AlertChannelNotFound, AlertDeliveryNotFound } from "../OperationErrors.js"

export type { ChannelKind, ChannelPatch, CreateChannelInput } from "./ChannelInput.js"

type DatabaseError = DbError.DatabaseError
type InvalidRow = DbError.InvalidRow
type InvalidInput = Input.InvalidInput

const ChannelInfoSchema = Schema.Struct({
  id: Schema.NumberFromString,
  tenantId: Schema.NullOr(Schema.String),
  name: Schema.String,
  kind: Schema.Literal("webhook", "slack", "email"),
  url: Schema.String,
  hasSecret: Schema.Boolean,
  events: Schema.Array(Schema.String),
  errorClasses: Schema.Array(Schema.String),
  minPriority: Schema.Int,
  recipients: Schema.Array(Schema.String),
  sender: Schema.NullOr(Schema.String),
  failingAfter: Schema.Int,
  failingWindowS: Schema.Int,
  dlqThreshold: Schema.NullOr(Schema.Int),
  digestWindowS: Schema.Int,
  enabled: Schema.Boolean,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
})

/** A channel: every column of alert_channel but the secret, and whether it has one. */
export interface ChannelInfo extends Schema.Schema.Type<typeof ChannelInfoSchema> {}

const DeliveryState = Schema.Literal("pending", "delivered", "failed", "coalesced")

const DeliveryInfoSchema = Schema.Struct({
  id: Schema.NumberFromString,
  channelId: Schema.NumberFromString,
  tenantId: Schema.NullOr(Schema.String),
  event: Schema.String,
  payload: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  state: DeliveryState,
  attempts: Schema.Int,
  nextAttemptAt: Schema.DateFromSelf,
  lastStatus: Schema.NullOr(Schema.Int),
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.DateFromSelf,
  deliveredAt: Schema.NullOr(Schema.DateFromSelf),
  /** A `coalesced` row: the delivery whose digest carried it. */
  sentIn: Schema.NullOr(Schema.NumberFromString),
  coalesceKey: Schema.NullOr(Schema.String)
})

/** A row of alert_delivery: an alert for a channel, and where its sending stands. */
export interface DeliveryInfo extends Schema.Schema.Type<typeof DeliveryInfoSchema> {}

const AttemptInfoSchema = Schema.Struct({
  id: Schema.NumberFromString,
  deliveryId: Schema.NumberFromString,
  tenantId: Schema.NullOr(Schema.String),
  attempt: Schema.Int,
  outcome: Schema.Literal("delivered", "failed", "timeout"),
  statusCode: Schema.NullOr(Schema.Int),
  error: Schema.NullOr(Schema.String),
  durationMs: Schema.Int,
  carried: Schema.Int,
  at: Schema.DateFromSelf
})

/** A row of alert_attempt: one try of a delivery. */
export interface AttemptInfo extends Schema.Schema.Type<typeof AttemptInfoSchema> {}

export interface ListInput {
  /** One tenant's channels (not the global ones); omitted: every channel the caller sees. */
  readonly tenantId?: string | undefined
}

export interface DeliveriesInput {
  readonly channelId?: number | string | undefined
  readonly state?: "pending" | "delivered" | "failed" | "coalesced" | undefined
  readonly event?: string | undefined
  /** The previous page's last id: the page after it. */
  readonly before?: number | string | undefined
  /** 1–500, default 50. */
  readonly limit?: number | undefined
}

export interface SendTestInput {
  readonly channelId: number | string
  readonly by: string
}

export interface RemoveInput {
  /** Who removes it (recorded in alert_channel_event). */
  readonly by: string
}

export class AlertChannels extends Context.Tag("@redrive/jobs/AlertChannels")<AlertChannels, {
  readonly create: (input: CreateChannelInput) => Effect.Effect<ChannelInfo, InvalidInput | DatabaseError | InvalidRow>
  readonly list: (input?: ListInput) => Effect.Effect<ReadonlyArray<ChannelInfo>, InvalidInput | DatabaseError | InvalidRow>
  readonly get: (
    id: number | string
  ) => Effect.Effect<ChannelInfo, AlertChannelNotFound | InvalidInput | DatabaseError | InvalidRow>
  readonly update: (
    id: number | string,
    patch: ChannelPatch
  ) => Effect.Effect<ChannelInfo, AlertChannelNotFound | InvalidInput | DatabaseError | InvalidRow>
  readonly remove: (
    id: number | string,
    input: RemoveInput
  ) => Effect.Effect<void, AlertChannelNotFound | InvalidInput | DatabaseError | InvalidRow>
  /** Newest first, keyset by id. */
  readonly deliveries: (
    input?: DeliveriesInput
  ) => Effect.Effect<ReadonlyArray<DeliveryInfo>, InvalidInput | DatabaseError | InvalidRow>
  /** The tries of one delivery, in order. */
  readonly attempts: (
    deliveryId: number | string
  ) => Effect.Effect<ReadonlyArray<AttemptInfo>, AlertDeliveryNotFound | InvalidInput | DatabaseError | InvalidRow>
  /** Writes an `alert.test` delivery for the channel (refused for a disabled one). */
  readonly sendTest: (
    input: SendTestInput
  ) => Effect.Effect<{ readonly deliveryId: number }, AlertChannelNotFound | InvalidInput | DatabaseError | InvalidRow>
}>() {}

const decodeChannelId = Input.decode(Ids.AlertChannelIdInput, "id")
const decodeDeliveryId = Input.decode(Ids.AlertDeliveryIdInput, "deliveryId")
const decodeList = Input.decode(Schema.Struct({ tenantId: Schema.optional(Ids.StoredTenantId) }), "")
const decodeDeliveries = Input.decode(
  Schema.Struct({
    channelId: Schema.optional(Ids.AlertChannelIdInput),
    state: Schema.optional(DeliveryState),
    event: Schema.optional(AlertEventName),
    before: Schema.optional(Ids.AlertDeliveryIdInput),
    limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 500)), { default: () => 50 })
  }),
  ""
)
const decodeSendTest = Input.decode(
  Schema.Struct({ channelId: Ids.AlertChannelIdInput, by: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)) }),
  ""
)
const decodeRemove = Input.decode(Schema.Struct({ by: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)) }), "")

const decodeChannel = Schema.decodeUnknown(ChannelInfoSchema)
const decodeDelivery = Schema.decodeUnknown(DeliveryInfoSchema)
const decodeAttempt = Schema.decodeUnknown(AttemptInfoSchema)

/**
 * A statement's failure as a DatabaseError without its driver cause: Postgres puts the failing
 * row, secret included, in a CHECK violation's detail. SQLSTATE and constraint stay.
 */
const db = (operation: string) => (error: SqlError): DatabaseError => {
  const e = DbError.fromSqlError(operation)(error)
  return e._tag === "Redrive/DatabaseError"
    ? new DbError.DatabaseError({
      operation,
      message: e.message,
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.constraint !== undefined ? { constraint: e.constraint } : {})
    })
    : new DbError.DatabaseError({ operation, message: e.message })
}

const invalidRow = (operation: string) => (error: { readonly message: string }) =>
  new DbError.InvalidRow({ operation, message: error.message })

const toInfo = (operation: string) => (row: ChannelSql.ChannelRow) =>
  Effect.map(
    Effect.mapError(decodeChannel(row), invalidRow(operation)),
    (c): ChannelInfo => ({ ...c, url: maskUrl(c.url) })
  )

const notFound = (id: number) =>
  new AlertChannelNotFound({ id, message: `alert channel ${id} does not exist (or is not the caller's)` })

/** A unique-name violation is the caller's input, not a database failure. */
const nameTaken = (operation: string) => (error: SqlError): DatabaseError | InvalidInput => {
  const e = db(operation)(error)
  return e.constraint === "alert_channel_name_unique"
    ? new Input.InvalidInput({ field: "name", message: "name: a channel of this name exists for this tenant (or globally)" })
    : e
}

export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  /** The tenant of the enclosing block, or null outside one (every tenant's channels). */
  const pinOf = (tenant: Option.Option<Ids.TenantId>): string | null => Option.getOrNull(tenant)

  const create = Effect.fn("AlertChannels.create")(function*(input: CreateChannelInput) {
    const c = yield* decodeCreate(input)
    const block = yield* FiberRef.get(Tenant.currentTenant)
    if (Option.isSome(block) && c.tenantId === null) {
      return yield* new Input.InvalidInput({ field: "tenantId", message: "tenantId: a tenant cannot create a global channel" })
    }
    if (Option.isSome(block) && c.tenantId !== undefined && c.tenantId !== block.value) {
      return yield* new Input.InvalidInput({ field: "tenantId", message: "tenantId: a tenant creates channels of its own only" })
    }
    const tenantId = Option.isSome(block) ? block.value : c.tenantId ?? null
    // The audit names the fields given, never their values.
    const fields = Object.entries(input).flatMap(([k, v]) => (v === undefined || k === "by" ? [] : [k])).sort()
    const rows = yield* Tenant.onRuntime(() => ChannelSql.insert(sql, { ...c, tenantId }, fields)).pipe(
      Effect.mapError(nameTaken("AlertChannels.create"))
    )
    return yield* toInfo("AlertChannels.create")(rows[0]!)
  })

  const list = Effect.fn("AlertChannels.list")(function*(input: ListInput = {}) {
    const q = yield* decodeList(input)
    const rows = yield* ChannelSql.list(sql, q.tenantId).pipe(Effect.mapError(db("AlertChannels.list")))
    return yield* Effect.forEach(rows, toInfo("AlertChannels.list"))
  })

  const get = Effect.fn("AlertChannels.get")(function*(idInput: number | string) {
    const id = yield* decodeChannelId(idInput)
    const rows = yield* ChannelSql.get(sql, id).pipe(Effect.mapError(db("AlertChannels.get")))
    const row = rows[0]
    if (row === undefined) return yield* notFound(id)
    return yield* toInfo("AlertChannels.get")(row)
  })

  const update = Effect.fn("AlertChannels.update")(function*(idInput: number | string, patch: ChannelPatch) {
    const id = yield* decodeChannelId(idInput)
    const row = yield* Tenant.onRuntime((tenant) =>
      Effect.gen(function*() {
        const [locked] = yield* ChannelSql.lockForUpdate(sql, id, pinOf(tenant))
        if (locked === undefined) return yield* notFound(id)
        const current = yield* Effect.mapError(decodeChannel(locked), invalidRow("AlertChannels.update"))
        const kind = current.kind
        const p = yield* decodePatch(kind, patch)
        yield* checkState({
          kind,
          url: p.url ?? current.url,
          hasSecret: p.secret === undefined ? current.hasSecret : p.secret !== null,
          recipients: p.recipients ?? current.recipients,
          sender: p.sender === undefined ? current.sender : p.sender
        })
        const [updated] = yield* ChannelSql.update(sql, id, p, fieldsOf(p))
        return updated!
      }).pipe(sql.withTransaction)
    ).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(nameTaken("AlertChannels.update")(e))))
    return yield* toInfo("AlertChannels.update")(row)
  })

  const remove = Effect.fn("AlertChannels.remove")(function*(idInput: number | string, input: RemoveInput) {
    const id = yield* decodeChannelId(idInput)
    const { by } = yield* decodeRemove(input)
    const rows = yield* Tenant.onRuntime((tenant) => ChannelSql.remove(sql, id, pinOf(tenant), by)).pipe(
      Effect.mapError(db("AlertChannels.remove"))
    )
    if (rows.length === 0) return yield* notFound(id)
  })

  const deliveries = Effect.fn("AlertChannels.deliveries")(function*(input: DeliveriesInput = {}) {
    const q = yield* decodeDeliveries(input)
    const rows = yield* ChannelSql.deliveries(sql, q).pipe(Effect.mapError(db("AlertChannels.deliveries")))
    return yield* Effect.forEach(
      rows,
      (row) => Effect.mapError(decodeDelivery(row), invalidRow("AlertChannels.deliveries"))
    )
  })

  const attempts = Effect.fn("AlertChannels.attempts")(function*(idInput: number | string) {
    const id = yield* decodeDeliveryId(idInput)
    const [visible, rows] = yield* Effect.all([ChannelSql.deliveryVisible(sql, id), ChannelSql.attempts(sql, id)]).pipe(
      Effect.mapError(db("AlertChannels.attempts"))
    )
    if (visible.length === 0) {
      return yield* new AlertDeliveryNotFound({ id, message: `alert delivery ${id} does not exist (or is not the caller's)` })
    }
    return yield* Effect.forEach(rows, (row) => Effect.mapError(decodeAttempt(row), invalidRow("AlertChannels.attempts")))
  })

  const sendTest = Effect.fn("AlertChannels.sendTest")(function*(input: SendTestInput) {
    const { by, channelId } = yield* decodeSendTest(input)
    const rows = yield* Tenant.onRuntime((tenant) => ChannelSql.insertTest(sql, channelId, pinOf(tenant), by)).pipe(
      Effect.mapError(db("AlertChannels.sendTest"))
    )
    const row = rows[0]
    if (row === undefined) return yield* notFound(channelId)
    if (row.deliveryId === null) {
      return yield* new Input.InvalidInput({
        field: "channelId",
        message: `channelId: alert channel ${channelId} is disabled: enable it to send a test`
      })
    }
    return { deliveryId: Number(row.deliveryId) }
  })

  return AlertChannels.of({ create, list, get, update, remove, deliveries, attempts, sendTest })
})

export const layer: Layer.Layer<AlertChannels, never, SqlClient.SqlClient> = Layer.effect(AlertChannels, make)
