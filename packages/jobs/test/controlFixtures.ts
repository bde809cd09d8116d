/** Helpers for the controls tests: a tenant's alert channel, a scope's audit trail, alerts and job states. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** A channel of `tenantId` wanting `events` (empty: every event); returns its id. */
export const channel = (tenantId: string | null, events: ReadonlyArray<string>, enabled = true) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string }>`
      insert into redrive.alert_channel (tenant_id, name, kind, url, events, enabled)
      values (${tenantId}, ${`ch-${Math.random().toString(36).slice(2)}`}, 'webhook', 'http://127.0.0.1:9/hook',
              ${events}::text[], ${enabled})
      returning id`.pipe(Effect.map((rows) => rows[0]!.id)))

/** The audit trail of one scope, oldest first. */
export const eventsOf = (tenantId: string, queue: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ action: string; previousState: string | null; reason: string | null; actor: string }>`
      select action, previous_state, reason, actor from redrive.control_event
      where tenant_id = ${tenantId} and queue = ${queue} order by id`)

/** The control alerts of one scope to one channel, oldest first. */
export const alertsOf = (channelId: string, tenantId: string, queue: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ event: string; actor: string; previousState: string | null; tenantId: string | null }>`
      select event, payload ->> 'actor' as actor, payload ->> 'previousState' as previous_state, tenant_id
      from redrive.alert_delivery
      where channel_id = ${channelId} and payload ->> 'tenantId' = ${tenantId} and payload ->> 'queue' = ${queue}
      order by id`)

/** How many of the tenant's jobs are in each state. */
export const statesOf = (tenantId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ state: string; n: number }>`
      select state, count(*)::int as n from redrive.job where tenant_id = ${tenantId} group by 1 order by 1`.pipe(
      Effect.map((rows) => Object.fromEntries(rows.map((r) => [r.state, r.n])))
    ))

/** `n` available jobs of the tenant's queue, inserted in one statement (fast). */
export const insertWaiting = (tenantId: string, queue: string, type: string, n: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`insert into redrive.job (tenant_id, queue, type, payload)
        select ${tenantId}, ${queue}, ${type}, '{}'::jsonb from generate_series(1, ${n}::int)`.pipe(Effect.asVoid))
