-- Traces and error groups (packages/jobs/src/Telemetry.ts, ErrorGroups.ts).

set local role redrive_owner;

-- The W3C traceparent of the span that enqueued the job (`00-<trace>-<span>-<flags>`), so its run
-- continues that trace; null when it was enqueued outside a span. Dead letters keep it.
alter table redrive.job add column trace_context text;
alter table redrive.job add constraint job_trace_context_length check (length(trace_context) <= 256);
alter table redrive.job_dlq add column trace_context text;
-- Tenants enqueue through the column grants of 0014: the new column is one they may write.
grant insert (trace_context) on redrive.job to redrive_tenant;

-- Error groups: dead letters grouped by (type, error_class, fingerprint), counted as they are
-- written (statement-level triggers below) so a list never scans job_dlq.
--   count: dead letters of the group not replayed (what a bulk replay of the group would take);
--   total: dead letters ever written to it (replays and pruning do not lower it);
--   first_seen / last_seen: dlq_at of the first and the newest written;
--   sample_*: the first dead letter's reason and final stack (kept, not replaced by newer ones).
-- Per tenant (tenants read their own rows):
create table redrive.dlq_group_tenant (
  tenant_id      text not null,
  type           text not null,
  error_class    text not null,
  fingerprint    text not null,
  count          bigint not null default 0,
  total          bigint not null default 0,
  first_seen     timestamptz(3) not null,
  last_seen      timestamptz(3) not null,
  sample_dlq_id  bigint,
  sample_message text,
  sample_stack   text,
  primary key (tenant_id, type, error_class, fingerprint)
);
-- The two orders of ErrorGroups.list, ties broken by the key (its keyset cursor).
create index dlq_group_tenant_last_idx on redrive.dlq_group_tenant (tenant_id, last_seen desc, type, error_class, fingerprint);
create index dlq_group_tenant_count_idx on redrive.dlq_group_tenant (tenant_id, count desc, type, error_class, fingerprint);

-- Across tenants (operators only): `tenants` counts the tenants whose row has count > 0.
create table redrive.dlq_group (
  type           text not null,
  error_class    text not null,
  fingerprint    text not null,
  count          bigint not null default 0,
  total          bigint not null default 0,
  tenants        integer not null default 0,
  first_seen     timestamptz(3) not null,
  last_seen      timestamptz(3) not null,
  sample_dlq_id  bigint,
  sample_message text,
  sample_stack   text,
  primary key (type, error_class, fingerprint)
);
create index dlq_group_last_idx on redrive.dlq_group (last_seen desc, type, error_class, fingerprint);
create index dlq_group_count_idx on redrive.dlq_group (count desc, type, error_class, fingerprint);

-- Applies per-tenant deltas (the rows of `redrive_dlq_group_delta`, a temp table the triggers fill)
-- to both tables in one statement. Rows are upserted in key order, so two settles never lock
-- the same groups in opposite orders. `prev` reads the tenant rows as they were before the
-- statement: a row crossing 0 changes the group's `tenants`.
create function redrive.dlq_group_apply(d jsonb) returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
  with delta as (
    select * from jsonb_to_recordset(d) as x(tenant_id text, type text, error_class text, fingerprint text,
      dcount bigint, dtotal bigint, first_seen timestamptz, last_seen timestamptz, sample_dlq_id bigint,
      sample_message text, sample_stack text)
  ), prev as (
    select t.tenant_id, t.type, t.error_class, t.fingerprint, t.count
    from redrive.dlq_group_tenant t join delta x using (tenant_id, type, error_class, fingerprint)
  ), up as (
    insert into redrive.dlq_group_tenant as g (tenant_id, type, error_class, fingerprint, count, total, first_seen,
      last_seen, sample_dlq_id, sample_message, sample_stack)
    -- A replay or prune carries no times: ±infinity leave least()/greatest() unchanged.
    select tenant_id, type, error_class, fingerprint, dcount, dtotal, coalesce(first_seen, 'infinity'),
           coalesce(last_seen, '-infinity'), sample_dlq_id, sample_message, sample_stack
    from delta order by tenant_id, type, error_class, fingerprint
    on conflict (tenant_id, type, error_class, fingerprint) do update
      set count = g.count + excluded.count, total = g.total + excluded.total,
          first_seen = least(g.first_seen, excluded.first_seen), last_seen = greatest(g.last_seen, excluded.last_seen),
          sample_dlq_id = coalesce(g.sample_dlq_id, excluded.sample_dlq_id),
          sample_message = coalesce(g.sample_message, excluded.sample_message),
          sample_stack = coalesce(g.sample_stack, excluded.sample_stack)
    returning g.tenant_id, g.type, g.error_class, g.fingerprint, g.count
  ), per_group as (
    select x.type, x.error_class, x.fingerprint, sum(x.dcount) as dcount, sum(x.dtotal) as dtotal,
           min(x.first_seen) as first_seen, max(x.last_seen) as last_seen,
           (array_agg(x.sample_dlq_id order by x.sample_dlq_id) filter (where x.sample_dlq_id is not null))[1] as sample_dlq_id,
           (array_agg(x.sample_message order by x.sample_dlq_id) filter (where x.sample_dlq_id is not null))[1] as sample_message,
           (array_agg(x.sample_stack order by x.sample_dlq_id) filter (where x.sample_dlq_id is not null))[1] as sample_stack,
           sum(case when coalesce(p.count, 0) <= 0 and u.count > 0 then 1
                    when coalesce(p.count, 0) > 0 and u.count <= 0 then -1 else 0 end)::int as dtenants
    from delta x
    join up u using (tenant_id, type, error_class, fingerprint)
    left join prev p using (tenant_id, type, error_class, fingerprint)
    group by 1, 2, 3
  )
  insert into redrive.dlq_group as g (type, error_class, fingerprint, count, total, tenants, first_seen, last_seen,
    sample_dlq_id, sample_message, sample_stack)
  select type, error_class, fingerprint, dcount, dtotal, dtenants, coalesce(first_seen, 'infinity'),
         coalesce(last_seen, '-infinity'), sample_dlq_id, sample_message, sample_stack
  from per_group order by type, error_class, fingerprint
  on conflict (type, error_class, fingerprint) do update
    set count = g.count + excluded.count, total = g.total + excluded.total, tenants = g.tenants + excluded.tenants,
        first_seen = least(g.first_seen, excluded.first_seen), last_seen = greatest(g.last_seen, excluded.last_seen),
        sample_dlq_id = coalesce(g.sample_dlq_id, excluded.sample_dlq_id),
        sample_message = coalesce(g.sample_message, excluded.sample_message),
        sample_stack = coalesce(g.sample_stack, excluded.sample_stack)
$$;
revoke all on function redrive.dlq_group_apply(jsonb) from public;
grant execute on function redrive.dlq_group_apply(jsonb) to redrive_runtime;

-- Statement-level triggers with transition tables: one upsert per statement, whatever the
-- number of rows (a settle batch, a rescue pass, a bulk replay window, a prune). Every path
-- that writes job_dlq is covered, the shared dead-letter fragment included.
-- The sample of a group is its first dead letter in the statement (the smallest id), taken only
-- by a group that has none yet (the upsert keeps an existing sample).
create function redrive.dlq_group_on_insert() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform redrive.dlq_group_apply(coalesce((
    select jsonb_agg(g) from (
      select c.*, s.error_reason as sample_message, s.error_history -> -1 ->> 'stack' as sample_stack
      from (
        select n.tenant_id, n.type, n.error_class, n.fingerprint,
               count(*) filter (where n.replayed_at is null) as dcount, count(*) as dtotal,
               min(n.dlq_at) as first_seen, max(n.dlq_at) as last_seen, min(n.id) as sample_dlq_id
        from new_rows n
        group by 1, 2, 3, 4
      ) c join new_rows s on s.id = c.sample_dlq_id
    ) g), '[]'::jsonb));
  return null;
end $$;

create function redrive.dlq_group_on_update() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  -- Only a change of replayed_at (a replay, or an undone one) moves a count.
  if not exists (select 1 from new_rows n join old_rows o using (id)
                 where (n.replayed_at is null) <> (o.replayed_at is null)) then
    return null;
  end if;
  perform redrive.dlq_group_apply(coalesce((
    select jsonb_agg(g) from (
      select n.tenant_id, n.type, n.error_class, n.fingerprint,
             sum(case when n.replayed_at is null then 1 else -1 end) as dcount, 0 as dtotal,
             null::timestamptz as first_seen, null::timestamptz as last_seen, null::bigint as sample_dlq_id,
             null::text as sample_message, null::text as sample_stack
      from new_rows n join old_rows o using (id)
      where (n.replayed_at is null) <> (o.replayed_at is null)
      group by 1, 2, 3, 4
    ) g), '[]'::jsonb));
  return null;
end $$;

create function redrive.dlq_group_on_delete() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform redrive.dlq_group_apply(coalesce((
    select jsonb_agg(g) from (
      select o.tenant_id, o.type, o.error_class, o.fingerprint, -count(*) as dcount, 0 as dtotal,
             null::timestamptz as first_seen, null::timestamptz as last_seen, null::bigint as sample_dlq_id,
             null::text as sample_message, null::text as sample_stack
      from old_rows o
      where o.replayed_at is null
      group by 1, 2, 3, 4
    ) g), '[]'::jsonb));
  return null;
end $$;

revoke all on function redrive.dlq_group_on_insert(), redrive.dlq_group_on_update(),
  redrive.dlq_group_on_delete() from public;

create trigger job_dlq_group_insert after insert on redrive.job_dlq
  referencing new table as new_rows for each statement execute function redrive.dlq_group_on_insert();
create trigger job_dlq_group_update after update on redrive.job_dlq
  referencing old table as old_rows new table as new_rows for each statement execute function redrive.dlq_group_on_update();
create trigger job_dlq_group_delete after delete on redrive.job_dlq
  referencing old table as old_rows for each statement execute function redrive.dlq_group_on_delete();

-- Dead letters written before this migration.
select redrive.dlq_group_apply(coalesce((
  select jsonb_agg(g) from (
    select n.tenant_id, n.type, n.error_class, n.fingerprint,
           count(*) filter (where n.replayed_at is null) as dcount, count(*) as dtotal,
           min(n.dlq_at) as first_seen, max(n.dlq_at) as last_seen, min(n.id) as sample_dlq_id,
           (array_agg(n.error_reason order by n.id))[1] as sample_message,
           (array_agg(n.error_history -> -1 ->> 'stack' order by n.id))[1] as sample_stack
    from redrive.job_dlq n
    group by 1, 2, 3, 4
  ) g), '[]'::jsonb));

-- Mutes: an operator silences a group's alerts for a while. Append-only, so it is its own audit
-- trail: the newest row of a key (by id) decides, and the key is muted while its muted_until is
-- in the future (an unmute is a row whose muted_until is its own time). tenant_id null: every
-- tenant. The alert dispatcher must consult it before sending a group's dead-letter alerts.
create table redrive.dlq_group_mute (
  id          bigint generated always as identity primary key,
  type        text not null,
  error_class text not null,
  fingerprint text not null,
  tenant_id   text,
  muted_until timestamptz(3) not null,
  by          text not null,
  reason      text not null default '',
  at          timestamptz(3) not null default now(),
  constraint dlq_group_mute_by_valid check (by <> ''),
  constraint dlq_group_mute_tenant_valid check (tenant_id is null or (tenant_id <> '' and tenant_id <> '*'))
);
create index dlq_group_mute_key_idx on redrive.dlq_group_mute (type, error_class, fingerprint, tenant_id, id desc);

do $$
declare
  t text;
begin
  foreach t in array array['dlq_group_tenant', 'dlq_group', 'dlq_group_mute']
  loop
    execute format('alter table redrive.%I enable row level security', t);
    execute format('alter table redrive.%I force row level security', t);
    execute format('create policy %I on redrive.%I for all to redrive_runtime using (true) with check (true)',
                   t || '_runtime', t);
  end loop;
end $$;
create policy dlq_group_tenant_tenant on redrive.dlq_group_tenant for select to redrive_tenant
  using (tenant_id = (select redrive.current_tenant()));
create policy dlq_group_mute_tenant on redrive.dlq_group_mute for select to redrive_tenant
  using (tenant_id = (select redrive.current_tenant()));
grant select on redrive.dlq_group_tenant, redrive.dlq_group_mute to redrive_tenant;
