/**
 * The statements of AlertChannels (alerts/AlertChannels.ts): reads of channels, deliveries and
 * tries under whatever role runs them (a tenant block's row-level security decides what is seen),
 * and the writes — each one statement with its audit row (alert_channel_event), so a change and
 * its record commit together (Postgres runs every data-modifying WITH to completion). Reads never name the secret column (the tenant role may not read
 * it); `has_secret` (0025) says whether there is one.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type { NewChannel, PatchValues } from "../alerts/ChannelInput.js"

/** Every column of alert_channel but the secret (the columns the tenant role may read). */
const channelColumns = `id, tenant_id, name, kind, url, has_secret, events, error_classes, min_priority, recipients,
  sender, failing_after, failing_window_s, dlq_threshold, digest_window_s, enabled, created_at, updated_at`

/** A channel row as the driver returns it (names camelCased by the client). */
export interface ChannelRow {
  readonly id: string
  readonly tenantId: string | null
  readonly name: string
  readonly kind: string
  readonly url: string
  readonly hasSecret: boolean
  readonly events: ReadonlyArray<string>
  readonly errorClasses: ReadonlyArray<string>
  readonly minPriority: number
  readonly recipients: ReadonlyArray<string>
  readonly sender: string | null
  readonly failingAfter: number
  readonly failingWindowS: number
  readonly dlqThreshold: number | null
  readonly digestWindowS: number
  readonly enabled: boolean
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** null: every tenant's channels (the runtime outside a tenant block); else that tenant's only. */
type Pin = string | null

const pinned = (sql: SqlClient, pin: Pin, column = "tenant_id") =>
  pin === null ? sql`true` : sql`${sql(column)} = ${pin}`

export const list = (sql: SqlClient, tenantId: string | undefined) =>
  sql<ChannelRow>`
    select ${sql.literal(channelColumns)} from redrive.alert_channel
    where ${tenantId === undefined ? sql`true` : sql`tenant_id = ${tenantId}`}
    order by id`

export const get = (sql: SqlClient, id: number) =>
  sql<ChannelRow>`select ${sql.literal(channelColumns)} from redrive.alert_channel where id = ${id}`

/** Inserts a channel and its `created` audit row. */
export const insert = (sql: SqlClient, c: NewChannel & { readonly tenantId: string | null }, fields: ReadonlyArray<string>) =>
  sql<ChannelRow>`
    with ch as (
      insert into redrive.alert_channel (tenant_id, name, kind, url, secret, events, error_classes, min_priority,
        recipients, sender, failing_after, failing_window_s, dlq_threshold, digest_window_s, enabled)
      values (${c.tenantId}, ${c.name}, ${c.kind}, ${c.url}, ${c.secret}, ${c.events ?? []}::text[],
              ${c.errorClasses ?? []}::text[], ${c.minPriority ?? 10}, ${c.recipients ?? []}::text[], ${c.sender ?? null},
              ${c.failingAfter ?? 5}, ${c.failingWindowS ?? 300}, ${c.dlqThreshold ?? null}, ${c.digestWindowS ?? 60},
              ${c.enabled ?? true})
      returning ${sql.literal(channelColumns)}
    ), audit as (
      insert into redrive.alert_channel_event (channel_id, tenant_id, action, fields, by)
      select id, tenant_id, 'created', ${fields}::text[], ${c.by} from ch
      returning 1
    )
    select ch.* from ch`

/** The channel to update, locked, with the facts the rules across fields need. */
export const lockForUpdate = (sql: SqlClient, id: number, pin: Pin) =>
  sql<ChannelRow>`
    select ${sql.literal(channelColumns)} from redrive.alert_channel
    where id = ${id} and ${pinned(sql, pin)}
    for update`

/** Updates the fields a patch sets (the secret only when it sets it) and audits it. */
export const update = (sql: SqlClient, id: number, p: PatchValues, fields: ReadonlyArray<string>) => {
  const sets = [
    p.name !== undefined ? sql`name = ${p.name}` : null,
    p.url !== undefined ? sql`url = ${p.url}` : null,
    p.secret !== undefined ? sql`secret = ${p.secret}` : null,
    p.events !== undefined ? sql`events = ${p.events}::text[]` : null,
    p.errorClasses !== undefined ? sql`error_classes = ${p.errorClasses}::text[]` : null,
    p.minPriority !== undefined ? sql`min_priority = ${p.minPriority}` : null,
    p.recipients !== undefined ? sql`recipients = ${p.recipients}::text[]` : null,
    p.sender !== undefined ? sql`sender = ${p.sender}` : null,
    p.failingAfter !== undefined ? sql`failing_after = ${p.failingAfter}` : null,
    p.failingWindowS !== undefined ? sql`failing_window_s = ${p.failingWindowS}` : null,
    p.dlqThreshold !== undefined ? sql`dlq_threshold = ${p.dlqThreshold}::int` : null,
    p.digestWindowS !== undefined ? sql`digest_window_s = ${p.digestWindowS}` : null,
    p.enabled !== undefined ? sql`enabled = ${p.enabled}` : null,
    sql`updated_at = now()`
  ].filter((f) => f !== null)
  return sql<ChannelRow>`
    with ch as (
      update redrive.alert_channel set ${sql.csv(sets)}
      where id = ${id}
      returning ${sql.literal(channelColumns)}
    ), audit as (
      insert into redrive.alert_channel_event (channel_id, tenant_id, action, fields, by)
      select id, tenant_id, 'updated', ${fields}::text[], ${p.by} from ch
      returning 1
    )
    select ch.* from ch`
}

/** Deletes a channel (its deliveries go with it: foreign key) and audits it; no row: not found. */
export const remove = (sql: SqlClient, id: number, pin: Pin, by: string) =>
  sql<{ readonly id: string }>`
    with ch as (
      delete from redrive.alert_channel where id = ${id} and ${pinned(sql, pin)}
      returning id, tenant_id
    ), audit as (
      insert into redrive.alert_channel_event (channel_id, tenant_id, action, by)
      select id, tenant_id, 'removed', ${by} from ch
      returning 1
    )
    select ch.id from ch`

/**
 * An `alert.test` outbox row for the channel (the dispatcher sends it like any other) and its
 * `tested` audit row; no row: no such channel (for `pin`). `enabled` tells a disabled one apart.
 */
export const insertTest = (sql: SqlClient, id: number, pin: Pin, by: string) =>
  sql<{ readonly deliveryId: string | null; readonly enabled: boolean }>`
    with ch as (
      select id, tenant_id, name, kind, enabled from redrive.alert_channel
      where id = ${id} and ${pinned(sql, pin)}
    ), sent as (
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload)
      select id, tenant_id, 'alert.test',
             jsonb_build_object('channelId', id, 'channel', name, 'kind', kind, 'tenantId', tenant_id, 'by', ${by}::text,
                                'at', redrive.iso_ms(now()))
      from ch where enabled
      returning id
    ), audit as (
      insert into redrive.alert_channel_event (channel_id, tenant_id, action, by)
      select id, tenant_id, 'tested', ${by} from ch where enabled
      returning 1
    )
    select (select id from sent) as delivery_id, ch.enabled from ch`

/** A delivery row as the driver returns it. */
export interface DeliveryRow {
  readonly id: string
  readonly channelId: string
  readonly tenantId: string | null
  readonly event: string
  readonly payload: unknown
  readonly state: string
  readonly attempts: number
  readonly nextAttemptAt: Date
  readonly lastStatus: number | null
  readonly lastError: string | null
  readonly createdAt: Date
  readonly deliveredAt: Date | null
  readonly sentIn: string | null
  readonly coalesceKey: string | null
}

export interface DeliveryQuery {
  readonly channelId?: number | undefined
  readonly state?: string | undefined
  readonly event?: string | undefined
  readonly before?: number | undefined
  readonly limit: number
}

/**
 * Deliveries of the channels the caller sees, newest first, keyset by id (`before`: the previous
 * page's last id). The channel join keeps a tenant to its own channels' deliveries (row-level
 * security shows it its rows of global channels too).
 */
export const deliveries = (sql: SqlClient, q: DeliveryQuery) =>
  sql<DeliveryRow>`
    select d.id, d.channel_id, d.tenant_id, d.event, d.payload, d.state, d.attempts, d.next_attempt_at, d.last_status,
           d.last_error, d.created_at, d.delivered_at, d.sent_in, d.coalesce_key
    from redrive.alert_delivery d
    where ${
    sql.and([
      q.channelId === undefined ? sql`true` : sql`d.channel_id = ${q.channelId}`,
      q.state === undefined ? sql`true` : sql`d.state = ${q.state}`,
      q.event === undefined ? sql`true` : sql`d.event = ${q.event}`,
      q.before === undefined ? sql`true` : sql`d.id < ${q.before}`,
      sql`exists (select 1 from redrive.alert_channel ch where ch.id = d.channel_id)`
    ])
  }
    order by d.id desc
    limit ${q.limit}`

/** Whether the caller sees the delivery (of a channel it sees). */
export const deliveryVisible = (sql: SqlClient, id: number) =>
  sql<{ readonly id: string }>`
    select d.id from redrive.alert_delivery d
    where d.id = ${id} and exists (select 1 from redrive.alert_channel ch where ch.id = d.channel_id)`

export interface AttemptRow {
  readonly id: string
  readonly deliveryId: string
  readonly tenantId: string | null
  readonly attempt: number
  readonly outcome: string
  readonly statusCode: number | null
  readonly error: string | null
  readonly durationMs: number
  readonly carried: number
  readonly at: Date
}

export const attempts = (sql: SqlClient, deliveryId: number) =>
  sql<AttemptRow>`
    select id, delivery_id, tenant_id, attempt, outcome, status_code, error, duration_ms, carried, at
    from redrive.alert_attempt where delivery_id = ${deliveryId}
    order by attempt, id`
