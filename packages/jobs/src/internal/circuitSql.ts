/**
 * Every statement of the circuit breaker, in one place: the workers' registration and per-second
 * counts, the leader's read of every circuit with its window, the transitions (each one
 * statement: the circuit row, the type's control row, its control_event audit entry and the
 * alert outbox rows commit together), and the bounded batches that move a type's waiting jobs.
 * A transition or a batch applies only to the circuit `version` it was decided on, so two
 * leaders for a moment (a handover) cannot both act.
 */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"
import { Control, RawSql } from "@redrive/database"
import type { Settings } from "../Circuit.js"
import * as Notify from "../Notify.js"
import { scopeControlled } from "./controlSql.js"

const actor = Control.circuitBreakerActor

/** What a worker registers for each breaker-enabled type it runs. */
export interface Registration extends Settings {
  readonly type: string
  readonly queues: ReadonlyArray<string>
}

/** The job `j`'s scope has a control row that holds it (an operator's pause, say). */
const jobScopeControlled = (sql: SqlClient) =>
  scopeControlled(sql, {
    tenantId: sql.literal("j.tenant_id"),
    queue: sql.literal("j.queue"),
    type: sql.literal("j.type"),
    blocking: true
  })

/** Creates the types' circuits (closed) or updates their settings; the state is left alone. */
export const register = (sql: SqlClient, rows: ReadonlyArray<Registration>) =>
  sql`insert into redrive.circuit as c (type, queues, trip_classes, failure_ratio, min_attempts, window_ms, cooldown_ms,
                                        max_cooldown_ms, probes)
      select r.type, r.queues, r."tripOn", r."failureRatio", r."minAttempts", r."windowMs", r."cooldownMs",
             r."maxCooldownMs", r.probes
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(type text, queues text[], "tripOn" text[],
        "failureRatio" float8, "minAttempts" int, "windowMs" int, "cooldownMs" int, "maxCooldownMs" int, probes int)
      order by r.type
      on conflict (type) do update set
        queues = array(select distinct q from unnest(c.queues || excluded.queues) as q order by q),
        trip_classes = excluded.trip_classes, failure_ratio = excluded.failure_ratio,
        min_attempts = excluded.min_attempts, window_ms = excluded.window_ms, cooldown_ms = excluded.cooldown_ms,
        max_cooldown_ms = excluded.max_cooldown_ms, probes = excluded.probes, updated_at = now()`

/**
 * Adds a worker's counts to the per-second buckets, one statement for every type: each count
 * comes with its age (ms before the flush), filed under the second of the database's clock it
 * ended in.
 */
export const flushCounts = (
  sql: SqlClient,
  c: {
    readonly types: ReadonlyArray<string>
    readonly ages: ReadonlyArray<number>
    readonly attempts: ReadonlyArray<number>
    readonly failures: ReadonlyArray<number>
  }
) =>
  RawSql.of(sql)`
    insert into redrive.circuit_count as k (type, bucket, attempts, failures)
    select u.t, date_trunc('second', now() - u.age * interval '1 millisecond'), sum(u.a), sum(u.f)
    from unnest(${c.types}::text[], ${c.ages}::int[], ${c.attempts}::int[], ${c.failures}::int[]) as u(t, age, a, f)
    group by 1, 2
    -- a fixed order, so two workers never lock the same buckets in opposite orders
    order by 1, 2
    on conflict (type, bucket) do update
      set attempts = k.attempts + excluded.attempts, failures = k.failures + excluded.failures`

/** A circuit as the leader reads it, with the database's clock and the type's control row. */
export interface CircuitRow extends Registration {
  readonly state: string
  readonly countedFrom: Date
  readonly openedAt: Date | null
  readonly openCooldownMs: number | null
  readonly reopens: number
  readonly halfOpenAt: Date | null
  readonly probesReleased: number
  readonly pendingMove: string | null
  readonly version: string
  readonly now: Date
  readonly controlled: boolean
  /** [second (epoch ms), attempts, failures] of the window, and of the half-open period */
  readonly buckets: unknown
}

/** Every circuit, with the buckets of its window (and of its half-open period) and whether its type is controlled. */
export const readAll = (sql: SqlClient) =>
  RawSql.of(sql)<CircuitRow>`
    select c.type, c.queues, c.trip_classes as "tripOn", c.failure_ratio as "failureRatio",
           c.min_attempts as "minAttempts", c.window_ms as "windowMs", c.cooldown_ms as "cooldownMs",
           c.max_cooldown_ms as "maxCooldownMs", c.probes, c.state, c.counted_from as "countedFrom",
           c.opened_at as "openedAt", c.open_cooldown_ms as "openCooldownMs", c.reopens,
           c.half_open_at as "halfOpenAt", c.probes_released as "probesReleased", c.pending_move as "pendingMove",
           c.version, now() as now,
           exists (
             select 1 from redrive.control ctl where ctl.tenant_id = '*' and ctl.queue = '*' and ctl.type = c.type
           ) as controlled,
           coalesce((
             select jsonb_agg(jsonb_build_array(floor(extract(epoch from k.bucket) * 1000), k.attempts, k.failures)
                              order by k.bucket)
             from redrive.circuit_count k
             where k.type = c.type
               and k.bucket >= date_trunc('second', least(now() - c.window_ms * interval '1 millisecond',
                                                          coalesce(c.half_open_at, now())))
           ), '[]'::jsonb) as buckets
    from redrive.circuit c
    order by c.type`

/** Forgets the buckets no circuit's window (and no half-open period of a minute) can reach any more. */
export const pruneCounts = (sql: SqlClient) =>
  sql`delete from redrive.circuit_count
      where bucket < now() - interval '1 minute'
        - greatest(coalesce((select max(window_ms) from redrive.circuit), 0), 60000) * interval '1 millisecond'`

/** The columns of a circuit's next state (Circuit.next), as a transition writes them. */
export interface CircuitState {
  readonly state: "closed" | "open" | "half_open"
  readonly countedFrom: Date | null
  readonly openedAt: Date | null
  readonly openCooldownMs: number | null
  readonly reopens: number
  readonly halfOpenAt: Date | null
  readonly probesReleased: number
  readonly pendingMove: "pause" | "resume" | null
}

export interface TransitionInput {
  readonly type: string
  readonly version: string
  readonly next: CircuitState
}

/** CTE `moved`: the circuit row, moved to its next state if it is still at `version`. */
const moveCircuit = (sql: SqlClient, t: TransitionInput) =>
  sql`moved as (
      update redrive.circuit c
      set state = ${t.next.state}, counted_from = coalesce(${t.next.countedFrom}::timestamptz, c.counted_from),
          opened_at = ${t.next.openedAt}::timestamptz, open_cooldown_ms = ${t.next.openCooldownMs}::int,
          reopens = ${t.next.reopens}, half_open_at = ${t.next.halfOpenAt}::timestamptz,
          probes_released = ${t.next.probesReleased}, pending_move = ${t.next.pendingMove}::text,
          version = c.version + 1, updated_at = now()
      where c.type = ${t.type} and c.version = ${t.version}::bigint
      returning c.type, c.version
    )`

/** CTE `alerts`: outbox rows of `event` for the enabled global channels that want it, if `moved`. */
const alertRows = (sql: SqlClient, event: string, payload: Statement.Fragment) =>
  sql`alerts as (
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, coalesce_key)
      select ch.id, null, ${event}, ${payload}, 'circuit:' || m.type
      from moved m
      join redrive.alert_channel ch on ch.enabled and ch.tenant_id is null
        and (cardinality(ch.events) = 0 or ${event} = any(ch.events))
      returning 1
    )`

const result = (sql: SqlClient) =>
  sql`select (select version from moved) as version,
             (select count(*) from audited)::int + (select count(*) from alerts)::int as _side_effects`

/**
 * Opens the circuit (or re-opens it): the type is paused by a control row of tenant `*`, queue `*`
 * (reason `circuit_open`, by `circuit-breaker`), audited, and a `circuit.opened` alert is written.
 * An operator's own pause of the type is left as it is (and is not the breaker's to lift).
 */
export const open = (
  sql: SqlClient,
  t: TransitionInput & { readonly attempts: number; readonly failures: number; readonly windowMs: number }
) =>
  RawSql.of(sql)<{ readonly version: string | null }>`
    with ${moveCircuit(sql, t)}, before as (
      -- The statement's snapshot: the row as it was before the upsert below (no lock: a row
      -- this statement modifies would be skipped by FOR UPDATE).
      select ctl.state from redrive.control ctl
      where ctl.tenant_id = '*' and ctl.queue = '*' and ctl.type = ${t.type}
    ), paused as (
      insert into redrive.control as ctl (tenant_id, queue, type, state, reason, initiated_by)
      select '*', '*', m.type, 'paused', 'circuit_open', ${actor} from moved m
      on conflict (tenant_id, queue, type) do update
        set state = 'paused', reason = 'circuit_open', initiated_at = now(), updated_at = now()
        where ctl.initiated_by = ${actor}
      returning ctl.type
    ), audited as (
      insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
      select '*', '*', p.type, 'pause', (select state from before), 'circuit_open', ${actor} from paused p
      returning 1
    ), ${
    alertRows(
      sql,
      "circuit.opened",
      sql`jsonb_build_object('type', m.type, 'reason', 'circuit_open', 'attempts', ${t.attempts}::int,
            'failures', ${t.failures}::int, 'windowMs', ${t.windowMs}::int, 'cooldownMs', ${t.next.openCooldownMs}::int,
            'reopens', ${t.next.reopens}::int, 'probeAt', redrive.iso_ms(now() + ${t.next.openCooldownMs}::int * interval '1 millisecond'))`
    )
  }
    ${result(sql)}`

/** Half-open: the type's control row becomes `probing` (audited as `probe`); no alert. */
export const halfOpen = (sql: SqlClient, t: TransitionInput) =>
  RawSql.of(sql)<{ readonly version: string | null }>`
    with ${moveCircuit(sql, t)}, probing as (
      update redrive.control ctl set state = 'probing', reason = 'circuit_half_open', updated_at = now()
      from moved m
      where ctl.tenant_id = '*' and ctl.queue = '*' and ctl.type = m.type and ctl.initiated_by = ${actor}
        and ctl.state = 'paused'
      returning ctl.type
    ), audited as (
      insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
      select '*', '*', p.type, 'probe', 'paused', 'circuit_half_open', ${actor} from probing p
      returning 1
    ), alerts as (
      select 1 where false
    )
    ${result(sql)}`

/**
 * Closes the circuit with a fresh window: the breaker's control row goes (audited as `resume`,
 * reason `circuit_closed`) and a `circuit.closed` alert is written. After an operator's resume
 * there is no row left to remove; the alert says `operator_resumed`.
 */
export const close = (sql: SqlClient, t: TransitionInput & { readonly reason: string }) =>
  RawSql.of(sql)<{ readonly version: string | null }>`
    with ${moveCircuit(sql, t)}, lifted as (
      delete from redrive.control ctl
      using moved m
      where ctl.tenant_id = '*' and ctl.queue = '*' and ctl.type = m.type and ctl.initiated_by = ${actor}
      returning ctl.type, ctl.state
    ), audited as (
      insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
      select '*', '*', l.type, 'resume', l.state, 'circuit_closed', ${actor} from lifted l
      returning 1
    ), ${alertRows(sql, "circuit.closed", sql`jsonb_build_object('type', m.type, 'reason', ${t.reason}::text)`)}
    ${result(sql)}`

/** The version guard of a batch: nothing moves once the circuit went on to another transition. */
const atVersion = (sql: SqlClient, type: string, version: string) =>
  sql`(select c.version from redrive.circuit c where c.type = ${type}) = ${version}::bigint`

/**
 * Moves up to `limit` of the type's available jobs to `paused` (they keep their attempts). Looks
 * in the type's queues through the claim index; rows a claim holds are skipped (they run, or
 * come back available and the claim leaves them).
 */
export const pauseWaiting = (
  sql: SqlClient,
  m: { readonly type: string; readonly version: string; readonly queues: ReadonlyArray<string>; readonly limit: number }
) =>
  RawSql.of(sql)<{ readonly moved: number }>`
    with picked as (
      select j.id from redrive.job j
      where j.state = 'available' and j.queue = any(${m.queues}::text[]) and j.type = ${m.type}
      limit ${m.limit}
      for update skip locked
    ), moved as (
      update redrive.job j set state = 'paused', updated_at = now()
      where j.id = any(array(select id from picked)) and ${atVersion(sql, m.type, m.version)}
      returning 1
    )
    select (select count(*) from picked)::int as picked, (select count(*) from moved)::int as moved`

/**
 * Moves up to `limit` of the type's paused jobs with ids above `after` back to `available`,
 * except those a control row still covers (their tenant or queue is paused by an operator), and
 * wakes their queues. Returns the last id looked at, to go on from.
 */
export const resumeWaiting = (
  sql: SqlClient,
  m: { readonly type: string; readonly version: string; readonly after: number; readonly limit: number }
) =>
  RawSql.of(sql)<{ readonly picked: number; readonly moved: number; readonly last: string | null }>`
    with picked as (
      select j.id from redrive.job j
      where j.state = 'paused' and j.type = ${m.type} and j.id > ${m.after}
        and not ${jobScopeControlled(sql)}
      order by j.id
      limit ${m.limit}
      for update
    ), moved as (
      update redrive.job j set state = 'available', updated_at = now()
      where j.id = any(array(select id from picked)) and ${atVersion(sql, m.type, m.version)}
      returning j.queue
    ), woken as (
      select pg_notify(${Notify.channel}, q) from (select distinct queue as q from moved) w
    )
    select (select count(*) from picked)::int as picked, (select count(*) from moved)::int as moved,
           (select max(id) from picked)::text as last, (select count(*) from woken)::int as _woken`

/**
 * Half-open: makes up to `limit` of the type's due paused jobs available as probes (oldest first,
 * none whose scope an operator paused), records how many on the circuit and wakes their queues.
 */
export const releaseProbes = (
  sql: SqlClient,
  m: { readonly type: string; readonly version: string; readonly limit: number }
) =>
  RawSql.of(sql)<{ readonly released: number }>`
    with picked as (
      select j.id from redrive.job j
      where j.state = 'paused' and j.type = ${m.type} and j.run_at <= now()
        and not ${jobScopeControlled(sql)}
      order by j.id
      limit ${m.limit}
      for update skip locked
    ), moved as (
      update redrive.job j set state = 'available', updated_at = now()
      where j.id = any(array(select id from picked)) and ${atVersion(sql, m.type, m.version)}
      returning j.queue
    ), counted as (
      update redrive.circuit c set probes_released = c.probes_released + (select count(*) from moved), updated_at = now()
      where c.type = ${m.type} and c.version = ${m.version}::bigint and c.state = 'half_open'
      returning 1
    ), woken as (
      select pg_notify(${Notify.channel}, q) from (select distinct queue as q from moved) w
    )
    select (select count(*) from moved)::int as released,
           (select count(*) from counted)::int + (select count(*) from woken)::int as _side_effects`

/** The pending move is done (only at the version that asked for it). */
export const clearPendingMove = (sql: SqlClient, type: string, version: string) =>
  sql`update redrive.circuit set pending_move = null where type = ${type} and version = ${version}::bigint`
