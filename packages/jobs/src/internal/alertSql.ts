/**
 * Every statement of the alert dispatcher and evaluator, in one place: the claim of due
 * deliveries (with their digests), the record of a batch of tries, and the evaluated events
 * (job.failing, dlq.threshold, replay.finished). Each is one statement.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { RawSql } from "@redrive/database"

/** A claimed delivery with its channel (secret included: it never leaves the dispatcher). */
export interface ClaimedRow {
  readonly id: string
  readonly channelId: string
  readonly tenantId: string | null
  readonly event: string
  readonly payload: unknown
  readonly coalesceKey: string | null
  readonly attempt: number
  readonly createdAt: Date
  readonly kind: string
  readonly name: string
  readonly url: string
  readonly secret: string | null
  readonly recipients: ReadonlyArray<string>
  readonly sender: string | null
  /** Other deliveries this message carries (a digest), and a few of their payloads. */
  readonly coalesced: number
  readonly samples: ReadonlyArray<unknown> | null
}

/**
 * Claims up to `limit` due pending deliveries, in one statement:
 *
 * - rows of a disabled (or deleted) channel fail at once;
 * - a first try whose (channel, coalesce key) digest window is still open waits for its end;
 * - on a channel with a digest window (`digest_window_s` > 0), the other first tries sharing a
 *   (channel, coalesce key) — with every due pending row of that key, up to `digestMax` — become one message: the oldest is sent, the rest turn `coalesced`
 *   with `sent_in` pointing at it, and the key's window opens for the channel's `digest_window_s`;
 * - what is sent gets `attempts + 1` and `next_attempt_at` pushed past `leaseMs`: another leader
 *   (a handover) does not see it due before this one has recorded its try.
 *
 * `FOR UPDATE SKIP LOCKED` keeps two dispatchers off each other's rows.
 */
export const claim = (sql: SqlClient, c: { readonly limit: number; readonly leaseMs: number; readonly digestMax: number }) =>
  RawSql.of(sql)<{
    readonly id: string
    readonly channel_id: string
    readonly tenant_id: string | null
    readonly event: string
    readonly payload: unknown
    readonly coalesce_key: string | null
    readonly attempt: number
    readonly created_at: Date
    readonly kind: string
    readonly name: string
    readonly url: string
    readonly secret: string | null
    readonly recipients: ReadonlyArray<string>
    readonly sender: string | null
    readonly coalesced: number
    readonly samples: ReadonlyArray<unknown> | null
    readonly _side_effects: number
  }>`
    with picked as (
      select d.id, d.channel_id, d.coalesce_key, d.attempts, d.payload
      from redrive.alert_delivery d
      where d.state = 'pending' and d.next_attempt_at <= now()
      order by d.next_attempt_at, d.id
      limit ${c.limit}
      for update skip locked
    ), mates as (
      select d.id, d.channel_id, d.coalesce_key, d.attempts, d.payload
      from redrive.alert_delivery d
      where d.state = 'pending' and d.coalesce_key is not null and d.attempts = 0 and d.next_attempt_at <= now()
        and (d.channel_id, d.coalesce_key) in (
          select p.channel_id, p.coalesce_key from picked p
          join redrive.alert_channel ch on ch.id = p.channel_id and ch.digest_window_s > 0
          where p.attempts = 0 and p.coalesce_key is not null)
        and d.id <> all(array(select id from picked))
      order by d.id
      limit ${c.digestMax}
      for update skip locked
    ), due as (
      select * from picked union all select * from mates
    ), orphaned as (
      update redrive.alert_delivery d
      set state = 'failed', last_error = 'channel disabled or removed'
      from due
      where d.id = due.id
        and not exists (select 1 from redrive.alert_channel ch where ch.id = due.channel_id and ch.enabled)
      returning d.id
    ), live as (
      -- digest: the row may be coalesced (its channel has a digest window)
      select due.*, ch.digest_window_s > 0 and due.attempts = 0 and due.coalesce_key is not null as digest
      from due join redrive.alert_channel ch on ch.id = due.channel_id and ch.enabled
    ), held as (
      update redrive.alert_delivery d set next_attempt_at = w.until
      from live, redrive.alert_window w
      where d.id = live.id and live.digest
        and w.channel_id = live.channel_id and w.coalesce_key = live.coalesce_key and w.until > now()
      returning d.id
    ), grouped as (
      select l.id, l.channel_id, l.coalesce_key, l.attempts, l.payload,
             case when l.digest then min(l.id) over (partition by l.channel_id, l.coalesce_key, l.digest)
                  else l.id end as leader
      from live l
      where l.id <> all(array(select id from held))
    ), coalesced as (
      update redrive.alert_delivery d set state = 'coalesced', sent_in = g.leader
      from grouped g
      where d.id = g.id and g.leader <> g.id
      returning d.id
    ), claimed as (
      update redrive.alert_delivery d
      set attempts = d.attempts + 1, next_attempt_at = now() + ${c.leaseMs} * interval '1 millisecond'
      from grouped g
      where d.id = g.id and g.leader = g.id
      returning d.id, d.channel_id, d.tenant_id, d.event, d.payload, d.coalesce_key, d.attempts, d.created_at
    ), windows as (
      insert into redrive.alert_window as w (channel_id, coalesce_key, until)
      select distinct cl.channel_id, cl.coalesce_key, now() + ch.digest_window_s * interval '1 second'
      from claimed cl join redrive.alert_channel ch on ch.id = cl.channel_id
      where cl.coalesce_key is not null and cl.attempts = 1 and ch.digest_window_s > 0
      on conflict (channel_id, coalesce_key) do update set until = excluded.until
      returning 1
    )
    select cl.id, cl.channel_id, cl.tenant_id, cl.event, cl.payload, cl.coalesce_key, cl.attempts as attempt,
           cl.created_at, ch.kind, ch.name, ch.url, ch.secret, ch.recipients, ch.sender,
           ((select count(*) from grouped g where g.leader = cl.id and g.id <> cl.id)
             + (select count(*) from redrive.alert_delivery x where x.sent_in = cl.id))::int as coalesced,
           (select jsonb_agg(s.payload) from (
              (select g.payload from grouped g where g.leader = cl.id and g.id <> cl.id order by g.id limit 5)
              union all
              (select x.payload from redrive.alert_delivery x where x.sent_in = cl.id order by x.id limit 5)
              limit 5) s) as samples,
           (select count(*) from orphaned)::int + (select count(*) from coalesced)::int
             + (select count(*) from windows)::int as _side_effects
    from claimed cl join redrive.alert_channel ch on ch.id = cl.channel_id
    order by cl.id`

/** One try, as the dispatcher records it. */
export interface TryRecord {
  readonly id: number
  readonly attempt: number
  readonly outcome: "delivered" | "failed" | "timeout"
  readonly status: number | null
  readonly error: string | null
  readonly durationMs: number
  readonly carried: number
  /** When to try again (ms from now), or null: delivered, or out of tries. */
  readonly retryInMs: number | null
}

/**
 * Records a batch of tries in one statement: an `alert_attempt` row per try, the delivery's
 * state (delivered; pending again at its backoff; failed when out of tries) with its last status
 * and error, and the same fate for the rows its digest carried. A try is recorded only while the
 * delivery is still at the attempt it was claimed at (a slow dispatcher whose lease ran out and
 * whose row another claimed does not overwrite the newer try's outcome; its try is still kept).
 */
export const record = (sql: SqlClient, tries: ReadonlyArray<TryRecord>) =>
  RawSql.of(sql)<{ readonly settled: number; readonly carried: number; readonly _side_effects: number }>`
    with r as (
      select * from jsonb_to_recordset(${JSON.stringify(tries)}::jsonb) as r(
        id bigint, attempt int, outcome text, status int, error text, "durationMs" int, carried int, "retryInMs" bigint)
    ), tries as (
      insert into redrive.alert_attempt (delivery_id, tenant_id, attempt, outcome, status_code, error, duration_ms, carried)
      select r.id, d.tenant_id, r.attempt, r.outcome, r.status, r.error, r."durationMs", r.carried
      from r join redrive.alert_delivery d on d.id = r.id
      returning 1
    ), settled as (
      update redrive.alert_delivery d
      set state = case when r.outcome = 'delivered' then 'delivered' when r."retryInMs" is null then 'failed'
                       else 'pending' end,
          delivered_at = case when r.outcome = 'delivered' then now() end,
          next_attempt_at = case when r."retryInMs" is not null then now() + r."retryInMs" * interval '1 millisecond'
                                 else d.next_attempt_at end,
          last_status = r.status, last_error = r.error
      from r
      where d.id = r.id and d.state = 'pending' and d.attempts = r.attempt
      returning d.id, d.state, d.delivered_at, d.last_status, d.last_error, d.attempts
    ), carried as (
      update redrive.alert_delivery d
      set state = s.state, delivered_at = s.delivered_at, last_status = s.last_status, last_error = s.last_error,
          attempts = s.attempts
      from settled s
      where d.sent_in = s.id and d.state = 'coalesced' and s.state <> 'pending'
      returning 1
    )
    select (select count(*) from settled)::int as settled, (select count(*) from carried)::int as carried,
           (select count(*) from tries)::int as _side_effects`

/** The channels that want `event`, `ch` bound to redrive.alert_channel (success events are opt-in elsewhere). */
const wants = (sql: SqlClient, event: string) =>
  sql`ch.enabled and (cardinality(ch.events) = 0 or ${event} = any(ch.events))`

/**
 * The episodes of an evaluated event, as two CTEs over `source` (rows of channel_id and scope, the
 * scopes in alert now): `opened` holds the episodes that start now (the only ones that fire),
 * `cleared` removes those whose condition no longer holds, so the next episode fires again.
 */
const episodes = (sql: SqlClient, event: string, source: "failing" | "over") =>
  sql`opened as (
      insert into redrive.alert_episode (channel_id, event, scope)
      select s.channel_id, ${event}, s.scope from ${sql.literal(source)} s
      on conflict do nothing
      returning channel_id, scope
    ), cleared as (
      delete from redrive.alert_episode e
      where e.event = ${event}
        and not exists (select 1 from ${sql.literal(source)} s where s.channel_id = e.channel_id and s.scope = e.scope)
      returning 1
    )`

/**
 * job.failing: for each channel that wants it, each (tenant, queue, type) with at least
 * `failing_after` failures (of the channel's error classes) in the last `failing_window_s`
 * (whole minutes of failure_stat) and no recovered job in them. The episode row makes it fire once;
 * it goes when the condition no longer holds, so the next episode fires again.
 */
export const evaluateFailing = (sql: SqlClient) =>
  RawSql.of(sql)<{ readonly fired: number; readonly cleared: number }>`
    with ch as (
      select ch.id, ch.tenant_id, ch.failing_after, ch.failing_window_s, ch.error_classes from redrive.alert_channel ch
      where ${wants(sql, "job.failing")}
    ), counts as (
      select ch.id as channel_id, ch.failing_after, ch.failing_window_s, f.tenant_id, f.queue, f.type,
             sum(f.failures)::int as failures, sum(f.recovered)::int as recovered,
             array_agg(distinct f.error_class order by f.error_class) as classes
      from ch join redrive.failure_stat f
        on f.bucket >= date_trunc('minute', now() - ch.failing_window_s * interval '1 second')
        and (ch.tenant_id is null or f.tenant_id = ch.tenant_id)
        and (cardinality(ch.error_classes) = 0 or f.error_class = any(ch.error_classes))
      group by 1, 2, 3, 4, 5, 6
    ), failing as (
      select c.*, c.tenant_id || '/' || c.queue || '/' || c.type as scope from counts c
      where c.failures >= c.failing_after and c.recovered = 0
    ), ${episodes(sql, "job.failing", "failing")}, alerts as (
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, coalesce_key)
      select f.channel_id, f.tenant_id, 'job.failing',
             jsonb_build_object('tenantId', f.tenant_id, 'queue', f.queue, 'type', f.type, 'failures', f.failures,
                                'threshold', f.failing_after, 'windowS', f.failing_window_s, 'errorClasses', f.classes),
             'job.failing:' || f.scope
      from failing f join opened o on o.channel_id = f.channel_id and o.scope = f.scope
      returning 1
    )
    select (select count(*) from alerts)::int as fired, (select count(*) from cleared)::int as cleared`

/**
 * dlq.threshold: for each channel with a `dlq_threshold` that wants it, each (tenant, queue)
 * whose unreplayed dead letters exceed it; fires once per crossing (the episode goes when the
 * depth is back at or under the threshold). Counts only when such a channel exists.
 */
export const evaluateDlqThreshold = (sql: SqlClient) =>
  RawSql.of(sql)<{ readonly fired: number; readonly cleared: number }>`
    with ch as (
      select ch.id, ch.tenant_id, ch.dlq_threshold from redrive.alert_channel ch
      where ch.dlq_threshold is not null and ${wants(sql, "dlq.threshold")}
    ), depth as (
      select d.tenant_id, d.queue, count(*)::int as depth from redrive.job_dlq d
      where d.replayed_at is null and exists (select 1 from ch)
      group by 1, 2
    ), over as (
      select ch.id as channel_id, ch.dlq_threshold, depth.*, depth.tenant_id || '/' || depth.queue as scope
      from ch join depth on (ch.tenant_id is null or ch.tenant_id = depth.tenant_id) and depth.depth > ch.dlq_threshold
    ), ${episodes(sql, "dlq.threshold", "over")}, alerts as (
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, coalesce_key)
      select o.channel_id, o.tenant_id, 'dlq.threshold',
             jsonb_build_object('tenantId', o.tenant_id, 'queue', o.queue, 'depth', o.depth, 'threshold', o.dlq_threshold),
             'dlq.threshold:' || o.scope
      from over o join opened x on x.channel_id = o.channel_id and x.scope = o.scope
      returning 1
    )
    select (select count(*) from alerts)::int as fired, (select count(*) from cleared)::int as cleared`

/**
 * replay.finished: a bulk replay request that ended (done, cancelled, failed) in the last hour,
 * for each channel that wants it and existed when it ended; `dedupe_key` makes it once per channel.
 */
export const evaluateReplays = (sql: SqlClient) =>
  RawSql.of(sql)<{ readonly fired: number }>`
    with alerts as (
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, dedupe_key)
      select ch.id, r.tenant_id, 'replay.finished',
             jsonb_build_object('requestId', r.id, 'tenantId', r.tenant_id, 'state', r.state, 'dryRun', r.dry_run,
                                'matched', r.matched, 'replayed', r.replayed, 'requestedBy', r.requested_by,
                                'error', r.error, 'finishedAt', redrive.iso_ms(r.finished_at)),
             'replay.finished:' || r.id
      from redrive.replay_request r
      join redrive.alert_channel ch on ${wants(sql, "replay.finished")}
        and (ch.tenant_id is null or ch.tenant_id = r.tenant_id) and ch.created_at <= r.finished_at
      where r.finished_at > now() - interval '1 hour' and r.state in ('done', 'cancelled', 'failed')
      on conflict (channel_id, dedupe_key) where dedupe_key is not null do nothing
      returning 1
    )
    select (select count(*) from alerts)::int as fired`

/** Digest windows that ended long ago are of no use any more. */
export const pruneWindows = (sql: SqlClient) =>
  sql`delete from redrive.alert_window where until < now() - interval '1 hour'`
