/**
 * Error groups: dead letters grouped by (type, error class, fingerprint), read from counters kept
 * as dead letters are written, replayed and pruned (statement-level triggers on job_dlq,
 * migrations/0020_observe.sql), so a list never scans job_dlq however many dead letters it holds.
 *
 * Without `tenantId`, a group spans every tenant (`tenants`: how many have dead letters in it
 * not replayed); with one — or inside `Tenant.withTenant`, where row-level security shows a tenant
 * its own rows only — it is that tenant's share. `toFilter` turns a group into the DlqFilter of a
 * bulk replay of exactly its dead letters.
 *
 * Mutes silence a group's alerts for a while: `dlq_group_mute` is append-only (who, why, until,
 * when), the newest row of a key decides, and an unmute is a row ending the mute now. The alert
 * dispatcher must consult `isMuted` (or the table) before sending a `job.dead_lettered` alert.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DatabaseError as DbError, type DlqFilter, Ids, Input, Tenant } from "@redrive/database"
import { Context, Duration, Effect, FiberRef, Layer, Option, Schema } from "effect"
import { ErrorGroupNotFound } from "./OperationErrors.js"
export { ErrorGroupNotFound } from "./OperationErrors.js"

type DatabaseError = DbError.DatabaseError
type InvalidRow = DbError.InvalidRow

/** A group's key as callers write it; `tenantId` narrows it to one tenant's share. */
export interface GroupKeyInput {
  readonly type: string
  readonly errorClass: string
  readonly fingerprint: string
  readonly tenantId?: string | undefined
}

const GroupKey = Schema.Struct({
  type: Ids.JobType,
  errorClass: Ids.ErrorClass,
  fingerprint: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  tenantId: Schema.optional(Ids.StoredTenantId)
})
type GroupKey = typeof GroupKey.Type

export interface ErrorGroup {
  readonly type: string
  readonly errorClass: string
  readonly fingerprint: string
  /** The tenant of a per-tenant group; null across tenants. */
  readonly tenantId: string | null
  /** Dead letters of the group not replayed. */
  readonly count: number
  /** Dead letters ever written to it (replays and pruning do not lower it). */
  readonly total: number
  /** Tenants with dead letters of the group not replayed (1 or 0 for a per-tenant group). */
  readonly tenants: number
  readonly firstSeen: Date
  readonly lastSeen: Date
  /** The group's first dead letter: its id and reason. */
  readonly sampleDlqId: number | null
  readonly sampleMessage: string | null
}

export interface ErrorGroupDetail extends ErrorGroup {
  /** The sample dead letter's final stack, when one was recorded. */
  readonly sampleStack: string | null
}

export interface ListInput {
  readonly tenantId?: string | undefined
  readonly type?: string | undefined
  readonly errorClass?: string | undefined
  /** lastSeen (default): newest first; count: largest first. */
  readonly orderBy?: "lastSeen" | "count" | undefined
  /** 1–500, default 50. */
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
  /** Also list groups whose dead letters were all replayed or pruned (count 0). Default false. */
  readonly includeEmpty?: boolean | undefined
}

export interface ErrorGroupPage {
  readonly groups: ReadonlyArray<ErrorGroup>
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null
}

export interface MuteInput extends GroupKeyInput {
  /** How long the group stays muted. */
  readonly duration: Duration.DurationInput
  readonly by: string
  readonly reason?: string | undefined
}

export interface UnmuteInput extends GroupKeyInput {
  readonly by: string
  readonly reason?: string | undefined
}

/** A row of dlq_group_mute. */
export interface Mute {
  readonly id: number
  readonly type: string
  readonly errorClass: string
  readonly fingerprint: string
  readonly tenantId: string | null
  readonly mutedUntil: Date
  readonly by: string
  readonly reason: string
  readonly at: Date
}

const ListSchema = Schema.Struct({
  tenantId: Schema.optional(Ids.StoredTenantId),
  type: Schema.optional(Ids.JobType),
  errorClass: Schema.optional(Ids.ErrorClass),
  orderBy: Schema.optionalWith(Schema.Literal("lastSeen", "count"), { default: () => "lastSeen" as const }),
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 500)), { default: () => 50 }),
  cursor: Schema.optional(Schema.String),
  includeEmpty: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

/** The keyset position after a page's last group (ordering value, then the key). Not secret: RLS decides what is seen. */
const CursorSchema = Schema.Struct({
  o: Schema.Literal("lastSeen", "count"),
  v: Schema.Union(Schema.Number, Schema.String),
  t: Schema.String,
  c: Schema.String,
  f: Schema.String
})
const CursorJson = Schema.parseJson(CursorSchema)

const Actor = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))
const Reason = Schema.String.pipe(Schema.maxLength(1000))

const decodeList = Input.decode(ListSchema, "list")
const decodeKey = Input.decode(GroupKey, "key")
const decodeActor = Input.decode(Actor, "by")
const decodeReason = Input.decode(Reason, "reason")
const decodeCursor = (cursor: string) =>
  Effect.try(() => Buffer.from(cursor, "base64url").toString("utf8")).pipe(
    Effect.flatMap(Schema.decodeUnknown(CursorJson)),
    Effect.mapError(() => new Input.InvalidInput({ field: "cursor", message: "cursor: not a cursor of this list" }))
  )
const encodeCursor = (c: typeof CursorSchema.Type) => Buffer.from(JSON.stringify(c), "utf8").toString("base64url")

export class ErrorGroups extends Context.Tag("@redrive/jobs/ErrorGroups")<ErrorGroups, {
  readonly list: (input?: ListInput) => Effect.Effect<ErrorGroupPage, Input.InvalidInput | DatabaseError | InvalidRow>
  readonly get: (
    key: GroupKeyInput
  ) => Effect.Effect<ErrorGroupDetail, ErrorGroupNotFound | Input.InvalidInput | DatabaseError | InvalidRow>
  /** The DlqFilter of a bulk replay of exactly the group's dead letters (`Replay.createBulk({ filter })`). */
  readonly toFilter: (group: GroupKeyInput) => DlqFilter.DlqFilterInput
  readonly mute: (input: MuteInput) => Effect.Effect<Mute, Input.InvalidInput | DatabaseError | InvalidRow>
  readonly unmute: (input: UnmuteInput) => Effect.Effect<Mute, Input.InvalidInput | DatabaseError | InvalidRow>
  /** The mute in force for the key (a tenant's own, else one for every tenant), if any. */
  readonly isMuted: (key: GroupKeyInput) => Effect.Effect<Option.Option<Mute>, Input.InvalidInput | DatabaseError | InvalidRow>
}>() {}

interface GroupRow {
  readonly type: string
  readonly errorClass: string
  readonly fingerprint: string
  readonly tenantId: string | null
  readonly count: string | number
  readonly total: string | number
  readonly tenants: string | number
  readonly firstSeen: Date
  readonly lastSeen: Date
  readonly sampleDlqId: string | number | null
  readonly sampleMessage: string | null
  readonly sampleStack?: string | null
}

const toGroup = (r: GroupRow): ErrorGroup => ({
  type: r.type,
  errorClass: r.errorClass,
  fingerprint: r.fingerprint,
  tenantId: r.tenantId,
  count: Number(r.count),
  total: Number(r.total),
  tenants: Number(r.tenants),
  firstSeen: r.firstSeen,
  lastSeen: r.lastSeen,
  sampleDlqId: r.sampleDlqId === null ? null : Number(r.sampleDlqId),
  sampleMessage: r.sampleMessage
})

/** A mute as the driver returns it: the bigint id may come as a string. */
interface MuteRow extends Omit<Mute, "id"> {
  readonly id: string | number
}
const toMute = (r: MuteRow): Mute => ({ ...r, id: Number(r.id) })

export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const db = <A>(operation: string) => (effect: Effect.Effect<A, SqlError>) =>
    Effect.mapError(effect, DbError.fromSqlError(operation))

  /** The tenant a call is narrowed to: the block's (RLS shows nothing else), else the one asked for. */
  const scopeOf = (asked: string | undefined) =>
    Effect.map(FiberRef.get(Tenant.currentTenant), (block) => Option.isSome(block) ? block.value : asked)

  // Both tables give the same columns; the per-tenant one counts 1 tenant while it has dead letters.
  const source = (tenant: string | undefined) =>
    tenant === undefined
      ? sql`select type, error_class, fingerprint, null::text as tenant_id, count, total, tenants, first_seen,
                   last_seen, sample_dlq_id, sample_message, sample_stack
            from redrive.dlq_group`
      : sql`select type, error_class, fingerprint, tenant_id, count, total, (count > 0)::int as tenants, first_seen,
                   last_seen, sample_dlq_id, sample_message, sample_stack
            from redrive.dlq_group_tenant where tenant_id = ${tenant}`

  const list = Effect.fn("ErrorGroups.list")(function*(input: ListInput = {}) {
    const q = yield* decodeList(input)
    const after = q.cursor === undefined ? undefined : yield* decodeCursor(q.cursor)
    if (after !== undefined && after.o !== q.orderBy) {
      return yield* new Input.InvalidInput({ field: "cursor", message: "cursor: issued for another order" })
    }
    const tenant = yield* scopeOf(q.tenantId)
    const byCount = q.orderBy === "count"
    const order = byCount ? sql`g.count` : sql`g.last_seen`
    const conditions = [
      q.includeEmpty ? sql`true` : sql`g.count > 0`,
      q.type === undefined ? sql`true` : sql`g.type = ${q.type}`,
      q.errorClass === undefined ? sql`true` : sql`g.error_class = ${q.errorClass}`,
      after === undefined
        ? sql`true`
        : sql`(${order} < ${byCount ? sql`${after.v}::bigint` : sql`${after.v}::timestamptz`}
               or (${order} = ${byCount ? sql`${after.v}::bigint` : sql`${after.v}::timestamptz`}
                   and (g.type, g.error_class, g.fingerprint) > (${after.t}, ${after.c}, ${after.f})))`
    ]
    const rows = yield* sql<GroupRow>`
      select * from (${source(tenant)}) g
      where ${sql.and(conditions)}
      order by ${order} desc, g.type, g.error_class, g.fingerprint
      limit ${q.limit + 1}`.pipe(db("ErrorGroups.list"))
    const page = rows.slice(0, q.limit).map(toGroup)
    const last = page[page.length - 1]
    const nextCursor = rows.length > q.limit && last !== undefined
      ? encodeCursor({
        o: q.orderBy,
        v: byCount ? last.count : last.lastSeen.toISOString(),
        t: last.type,
        c: last.errorClass,
        f: last.fingerprint
      })
      : null
    return { groups: page, nextCursor } satisfies ErrorGroupPage
  })

  const get = Effect.fn("ErrorGroups.get")(function*(input: GroupKeyInput) {
    const key = yield* decodeKey(input)
    const tenant = yield* scopeOf(key.tenantId)
    const rows = yield* sql<GroupRow>`
      select * from (${source(tenant)}) g
      where g.type = ${key.type} and g.error_class = ${key.errorClass} and g.fingerprint = ${key.fingerprint}`.pipe(
      db("ErrorGroups.get")
    )
    const row = rows[0]
    if (row === undefined) {
      return yield* new ErrorGroupNotFound({ type: key.type, errorClass: key.errorClass, fingerprint: key.fingerprint })
    }
    return { ...toGroup(row), sampleStack: row.sampleStack ?? null } satisfies ErrorGroupDetail
  })

  const toFilter = (group: GroupKeyInput): DlqFilter.DlqFilterInput => ({
    type: group.type,
    errorClass: group.errorClass,
    fingerprint: group.fingerprint,
    ...(group.tenantId !== undefined && group.tenantId !== null ? { tenantId: group.tenantId } : {})
  })

  /** A mute row (an unmute is one ending now); written by the runtime, pinned to a block's tenant. */
  const writeMute = (operation: string, input: GroupKeyInput & { readonly by: string; readonly reason?: string | undefined }, millis: number) =>
    Effect.gen(function*() {
      const key = yield* decodeKey(input)
      const by = yield* decodeActor(input.by)
      const reason = yield* decodeReason(input.reason ?? "")
      const tenant = yield* scopeOf(key.tenantId)
      const rows = yield* Tenant.onRuntime(() =>
        sql<MuteRow>`
          insert into redrive.dlq_group_mute (type, error_class, fingerprint, tenant_id, muted_until, by, reason)
          values (${key.type}, ${key.errorClass}, ${key.fingerprint}, ${tenant ?? null},
                  now() + ${millis} * interval '1 millisecond', ${by}, ${reason})
          returning *`
      ).pipe(db(operation))
      return toMute(rows[0]!)
    })

  const mute = Effect.fn("ErrorGroups.mute")(function*(input: MuteInput) {
    const millis = Duration.toMillis(Duration.decode(input.duration))
    if (!(millis > 0) || !Number.isFinite(millis)) {
      return yield* new Input.InvalidInput({ field: "duration", message: "duration: must be positive and finite" })
    }
    return yield* writeMute("ErrorGroups.mute", input, millis)
  })

  const unmute = Effect.fn("ErrorGroups.unmute")((input: UnmuteInput) => writeMute("ErrorGroups.unmute", input, 0))

  const isMuted = Effect.fn("ErrorGroups.isMuted")(function*(input: GroupKeyInput) {
    const key: GroupKey = yield* decodeKey(input)
    const tenant = yield* scopeOf(key.tenantId)
    // The newest row of the tenant's key and of the every-tenant key; either in force mutes it.
    const rows = yield* sql<MuteRow>`
      select m.* from (values (${tenant ?? null}::text), (null::text)) as k(tenant_id), lateral (
        select * from redrive.dlq_group_mute m
        where m.type = ${key.type} and m.error_class = ${key.errorClass} and m.fingerprint = ${key.fingerprint}
          and m.tenant_id is not distinct from k.tenant_id
        order by m.id desc limit 1
      ) m
      where m.muted_until > now()
      order by m.muted_until desc limit 1`.pipe(db("ErrorGroups.isMuted"))
    return Option.map(Option.fromNullable(rows[0]), toMute)
  })

  return ErrorGroups.of({ list, get, toFilter, mute, unmute, isMuted })
})

export const layer = Layer.effect(ErrorGroups, make)
