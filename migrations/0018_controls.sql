-- Operator controls as SQL functions: the one implementation of pause, resume and drain (the
-- library's Controls service calls them; an operator in psql calls the same ones), the drain
-- watcher's completion, the bounded moves of a scope's waiting jobs, and the bulk replay request.
--
-- A change of a control row is immediate (the claim checks controls, so a paused scope's jobs
-- stop starting at once); the waiting jobs' state follows in bounded batches (available →
-- paused out of the claim index, or back): the function records a pending move in
-- redrive.control_move and `redrive.move_controlled_jobs` carries it out one batch per call —
-- the library's call loops it for its scope, the maintenance leader's drain watcher finishes
-- whatever is left (a psql resume is carried out within a second by a running leader).

set local role redrive_owner;

-- Moves still owed after a pause, drain or resume, one per (tenant, queue) scope: the latest
-- control change of the scope decides the direction.
create table redrive.control_move (
  tenant_id    text not null,
  queue        text not null,
  move         text not null,
  requested_at timestamptz(3) not null default now(),
  primary key (tenant_id, queue),
  constraint control_move_valid check (move in ('pause', 'resume'))
);

-- Operational state, no tenant reads it: RLS on, the runtime's policy, nothing for redrive_tenant.
alter table redrive.control_move enable row level security;
alter table redrive.control_move force row level security;
create policy control_move_runtime on redrive.control_move for all to redrive_runtime using (true) with check (true);

-- Refuses a bad scope or actor with a clear message naming the field (SQLSTATE 22023; the field
-- is also in the error's DETAIL, for the library to report).
create function redrive.control_check(tenant text, queue text, actor text, reason text default null)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  field text;
  problem text;
begin
  if tenant is null or tenant = '' then
    field := 'tenantId'; problem := 'tenant must not be empty (''*'' for every tenant)';
  elsif length(tenant) > 128 then
    field := 'tenantId'; problem := 'tenant is longer than 128 characters';
  elsif queue is null or queue = '' then
    field := 'queue'; problem := 'queue must not be empty (''*'' for every queue)';
  elsif length(queue) > 128 then
    field := 'queue'; problem := 'queue is longer than 128 characters';
  elsif actor is null or btrim(actor) = '' then
    field := 'by'; problem := 'actor must not be empty (who makes the change is audited)';
  elsif length(actor) > 256 then
    field := 'by'; problem := 'actor is longer than 256 characters';
  elsif length(reason) > 2000 then
    field := 'reason'; problem := 'reason is longer than 2000 characters';
  end if;
  if field is not null then
    raise exception using errcode = '22023', message = 'redrive: ' || problem, detail = 'field=' || field;
  end if;
end
$$;

-- One outbox row per enabled channel that wants `event` (global channels, and the scope's
-- tenant's own): the matching of deadLetterSql.ts (dlq_alerts), without the job priority.
create function redrive.control_alert(event text, c redrive.control, previous_state text, actor text)
returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
  with inserted as (
    insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, coalesce_key)
    select ch.id, nullif(c.tenant_id, '*'), event,
           jsonb_build_object('tenantId', c.tenant_id, 'queue', c.queue, 'type', c.type, 'state', c.state,
                              'previousState', previous_state, 'reason', c.reason, 'actor', actor,
                              'at', redrive.iso_ms(now())),
           'control:' || c.tenant_id || ':' || c.queue
    from redrive.alert_channel ch
    where ch.enabled
      and (ch.tenant_id is null or ch.tenant_id = c.tenant_id)
      and (cardinality(ch.events) = 0 or event = any(ch.events))
    returning 1
  )
  select count(*)::int from inserted
$$;

-- Control changes of one scope are serialised (two operators at once see each other's state).
create function redrive.control_lock(tenant text, queue text)
returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
  select pg_advisory_xact_lock(hashtextextended('redrive.control:' || tenant || chr(1) || queue, 0))
$$;

create function redrive.control_request_move(tenant text, queue text, move text)
returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
  insert into redrive.control_move (tenant_id, queue, move) values (tenant, queue, move)
  on conflict on constraint control_move_pkey do update set move = excluded.move, requested_at = now()
$$;

-- Pauses the scope ('*' for every tenant or queue): claims skip it from the commit on, its
-- waiting jobs move to 'paused' in batches, new jobs into it wait as 'paused'. Audited
-- ('pause', with the previous state) and alerted ('control.paused'). Pausing a paused scope
-- changes nothing (no audit entry, no alert); a draining or drained scope becomes paused.
create function redrive.pause(tenant text, queue text, reason text, actor text)
returns redrive.control
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  previous redrive.control;
  result redrive.control;
begin
  perform redrive.control_check(tenant, queue, actor, reason);
  if reason is null or btrim(reason) = '' then
    raise exception using errcode = '22023', message = 'redrive: reason must not be empty (why the scope is paused is audited)',
      detail = 'field=reason';
  end if;
  perform redrive.control_lock(tenant, queue);
  select * into previous from redrive.control c where c.tenant_id = tenant and c.queue = queue and c.type = '*';
  if previous.state = 'paused' then
    return previous;
  end if;
  insert into redrive.control as c (tenant_id, queue, type, state, reason, initiated_by)
  values (tenant, queue, '*', 'paused', reason, actor)
  on conflict on constraint control_pkey do update
    set state = 'paused', reason = excluded.reason, initiated_by = excluded.initiated_by, initiated_at = now(),
        drain_completed_at = null, updated_at = now()
  returning * into result;
  insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
  values (tenant, queue, '*', 'pause', previous.state, reason, actor);
  perform redrive.control_alert('control.paused', result, previous.state, actor);
  perform redrive.control_request_move(tenant, queue, 'pause');
  return result;
end
$$;

-- Drains the scope: claims skip it at once (state 'draining'), the jobs that run finish; the
-- drain watcher then makes it 'drained' (once). Waiting jobs move to 'paused' like a pause.
-- Audited ('drain') and alerted ('control.drain_started'). Draining a draining or drained scope
-- changes nothing; a paused scope starts draining.
create function redrive.drain(tenant text, queue text, actor text)
returns redrive.control
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  previous redrive.control;
  result redrive.control;
begin
  perform redrive.control_check(tenant, queue, actor);
  perform redrive.control_lock(tenant, queue);
  select * into previous from redrive.control c where c.tenant_id = tenant and c.queue = queue and c.type = '*';
  if previous.state in ('draining', 'drained') then
    return previous;
  end if;
  insert into redrive.control as c (tenant_id, queue, type, state, reason, initiated_by)
  values (tenant, queue, '*', 'draining', null, actor)
  on conflict on constraint control_pkey do update
    set state = 'draining', reason = excluded.reason, initiated_by = excluded.initiated_by, initiated_at = now(),
        drain_completed_at = null, updated_at = now()
  returning * into result;
  insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
  values (tenant, queue, '*', 'drain', previous.state, null, actor);
  perform redrive.control_alert('control.drain_started', result, previous.state, actor);
  perform redrive.control_request_move(tenant, queue, 'pause');
  return result;
end
$$;

-- Lifts the scope's pause or drain: the row goes, audited ('resume', with the state it had) and
-- alerted ('control.resumed'); its paused jobs move back to 'available' in batches (except
-- those another control still covers) and the workers of their queues are woken. Returns the
-- row that was lifted, or null when the scope had none (nothing audited). A type's row (an open
-- circuit) is lifted with ControlRepo.resume.
create function redrive.resume(tenant text, queue text, actor text)
returns redrive.control
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  previous redrive.control;
begin
  perform redrive.control_check(tenant, queue, actor);
  perform redrive.control_lock(tenant, queue);
  delete from redrive.control c where c.tenant_id = tenant and c.queue = queue and c.type = '*'
  returning * into previous;
  if previous.tenant_id is null then
    return null;
  end if;
  insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
  values (tenant, queue, '*', 'resume', previous.state, null, actor);
  perform redrive.control_alert('control.resumed', previous, previous.state, actor);
  perform redrive.control_request_move(tenant, queue, 'resume');
  return previous;
end
$$;

-- One batch of one pending move (the given scope's, or any when tenant/queue are null): up to
-- `batch_size` jobs change state in one statement. A pause moves only while the scope is still
-- paused or draining; a resume only jobs no control covers any more; so a batch can never undo
-- a later change. The move row is locked for the batch (SKIP LOCKED: two movers never work one
-- scope at once) and deleted by the batch that finds fewer than `batch_size` jobs. Returns the
-- scope, its direction, how many jobs moved and whether the move is done; no row: nothing to do.
create function redrive.move_controlled_jobs(tenant text default null, queue text default null,
                                             batch_size integer default 10000)
returns table (scope_tenant text, scope_queue text, move text, moved integer, done boolean)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  m redrive.control_move;
  n integer;
begin
  if batch_size is null or batch_size < 1 then
    raise exception using errcode = '22023', message = 'redrive: batch_size must be at least 1', detail = 'field=batchSize';
  end if;
  select * into m from redrive.control_move cm
  where (tenant is null or cm.tenant_id = tenant) and (queue is null or cm.queue = queue)
  order by cm.requested_at
  limit 1
  for update skip locked;
  if m.tenant_id is null then
    return;
  end if;
  if m.move = 'pause' then
    with picked as (
      select j.id from redrive.job j
      where j.state = 'available'
        and (m.tenant_id = '*' or j.tenant_id = m.tenant_id) and (m.queue = '*' or j.queue = m.queue)
        and exists (select 1 from redrive.control c
                    where c.tenant_id = m.tenant_id and c.queue = m.queue and c.type = '*'
                      and c.state in ('paused', 'draining'))
      limit batch_size
      -- Not SKIP LOCKED: a row a claim holds is waited for, so once the move is done no job of the
      -- scope can still turn 'running' (the drain watcher relies on it).
      for update of j
    ), updated as (
      -- `= any(array(…))`: a primary-key lookup per id, whatever the planner thinks of the scope.
      update redrive.job j set state = 'paused', updated_at = now()
      where j.id = any(array(select p.id from picked p)) and j.state = 'available'
      returning 1
    )
    select count(*)::int into n from updated;
  else
    with picked as (
      select j.id from redrive.job j
      where j.state = 'paused'
        and (m.tenant_id = '*' or j.tenant_id = m.tenant_id) and (m.queue = '*' or j.queue = m.queue)
        and not exists (select 1 from redrive.control c
                        where c.tenant_id in (j.tenant_id, '*') and c.queue in (j.queue, '*')
                          and c.type in (j.type, '*'))
      limit batch_size
      for update of j skip locked
    ), updated as (
      update redrive.job j set state = 'available', updated_at = now()
      where j.id = any(array(select p.id from picked p)) and j.state = 'paused'
      returning j.queue
    ), woken as (
      -- The channel and payload of packages/jobs/src/Notify.ts: the queue that has work.
      select pg_notify('redrive_jobs', q) from (select distinct u.queue as q from updated u) w
    )
    select count(*)::int into n from updated where (select count(*) from woken) >= 0;
  end if;
  if n < batch_size then
    delete from redrive.control_move cm where cm.tenant_id = m.tenant_id and cm.queue = m.queue;
  end if;
  return query select m.tenant_id, m.queue, m.move, n, n < batch_size;
end
$$;

-- The drain watcher's statement: every draining scope whose jobs are all moved and none of whose
-- jobs runs becomes 'drained' (drain_completed_at), with one 'drain_completed' audit entry and
-- one 'control.drain_completed' alert per channel. `state = 'draining'` is re-checked under the
-- row lock, so two passes at once complete a drain once.
create function redrive.complete_drains()
returns setof redrive.control
language sql
set search_path = pg_catalog, pg_temp
as $$
  with completed as (
    update redrive.control c
    set state = 'drained', drain_completed_at = now(), updated_at = now()
    where c.state = 'draining'
      and not exists (select 1 from redrive.control_move m where m.tenant_id = c.tenant_id and m.queue = c.queue)
      and not exists (select 1 from redrive.job j
                      where j.state = 'running' and (c.tenant_id = '*' or j.tenant_id = c.tenant_id)
                        and (c.queue = '*' or j.queue = c.queue) and (c.type = '*' or j.type = c.type))
    returning c.*
  ), audited as (
    insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
    select d.tenant_id, d.queue, d.type, 'drain_completed', 'draining', null, 'drain-watcher' from completed d
    returning 1
  ), alerted as (
    select redrive.control_alert('control.drain_completed', row(d.*)::redrive.control, 'draining', 'drain-watcher') as n from completed d
  )
  select d.* from completed d where (select count(*) from audited) + (select coalesce(sum(n), 0) from alerted) >= 0
$$;

-- A bulk replay request, the one implementation (Replay.createBulk calls it): the snapshot
-- (`max_dlq_id`), the count of the unreplayed dead letters it covers, `done` at once for a dry
-- run. `filter` is a DlqFilter as Replay stores it (tenantId, queue, type, errorClass,
-- fingerprint, dlqFrom, dlqTo as ISO strings, ids); a bad one is refused naming its field. An id
-- already taken in the scope creates nothing (no row comes back).
create function redrive.create_replay_request(id uuid, scope_tenant text, filter jsonb, dry_run boolean,
                                              rate_per_sec integer, requested_by text)
returns setof redrive.replay_request
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  field text;
  problem text;
  k text;
  ids bigint[];
  dlq_from timestamptz;
  dlq_to timestamptz;
begin
  if scope_tenant is null or scope_tenant = '' or length(scope_tenant) > 128 or scope_tenant = 'default' then
    field := 'scopeTenant'; problem := 'scope tenant must be a tenant id or ''*''';
  elsif requested_by is null or btrim(requested_by) = '' or length(requested_by) > 256 then
    field := 'requestedBy'; problem := 'actor must not be empty (at most 256 characters)';
  elsif rate_per_sec is not null and (rate_per_sec < 1 or rate_per_sec > 1000000) then
    field := 'ratePerSec'; problem := 'rate must be between 1 and 1000000';
  elsif filter is null or jsonb_typeof(filter) <> 'object' then
    field := 'filter'; problem := 'filter must be a JSON object';
  end if;
  if field is null then
    foreach k in array array(select jsonb_object_keys(filter)) loop
      if k not in ('tenantId', 'queue', 'type', 'errorClass', 'fingerprint', 'dlqFrom', 'dlqTo', 'ids') then
        field := 'filter.' || k; problem := 'unknown filter field'; exit;
      elsif k <> 'ids' and (jsonb_typeof(filter -> k) <> 'string' or filter ->> k = '') then
        field := 'filter.' || k; problem := 'must be a non-empty string'; exit;
      elsif k in ('tenantId', 'queue', 'type') and length(filter ->> k) > 128 then
        field := 'filter.' || k; problem := 'is longer than 128 characters'; exit;
      end if;
    end loop;
  end if;
  if field is null then
    if filter ->> 'tenantId' = '*' or filter ->> 'queue' = '*' then
      field := 'filter.' || case when filter ->> 'tenantId' = '*' then 'tenantId' else 'queue' end;
      problem := '''*'' is reserved for control scopes (leave the field out)';
    elsif filter ->> 'errorClass' !~ '^[a-z][a-z0-9_]{0,63}$' then
      field := 'filter.errorClass'; problem := 'not an error class';
    elsif filter ? 'ids' and (jsonb_typeof(filter -> 'ids') <> 'array' or jsonb_array_length(filter -> 'ids') > 1000
          or exists (select 1 from jsonb_array_elements(filter -> 'ids') x
                     where (x #>> '{}') !~ '^[1-9][0-9]{0,17}$')) then
      field := 'filter.ids'; problem := 'must be an array of at most 1000 positive integer ids';
    end if;
  end if;
  if field is null then
    begin
      field := 'filter.dlqFrom';
      dlq_from := (filter ->> 'dlqFrom')::timestamptz;
      field := 'filter.dlqTo';
      dlq_to := (filter ->> 'dlqTo')::timestamptz;
      field := null;
    exception when others then
      problem := 'not an ISO date';
    end;
    if field is null and dlq_from >= dlq_to then
      field := 'filter.dlqTo'; problem := 'dlqTo must be after dlqFrom';
    end if;
  end if;
  if field is not null then
    raise exception using errcode = '22023', message = 'redrive: ' || field || ': ' || problem, detail = 'field=' || field;
  end if;
  ids := array(select (x #>> '{}')::bigint from jsonb_array_elements(coalesce(filter -> 'ids', '[]')) x);
  return query
    with snapshot as (
      select coalesce(max(d.id), 0) as max_dlq_id from redrive.job_dlq d
    )
    insert into redrive.replay_request as r (id, tenant_id, filter, max_dlq_id, dry_run, state, matched, rate_per_sec,
      requested_by, started_at, finished_at)
    select coalesce(id, gen_random_uuid()), scope_tenant, filter, s.max_dlq_id, dry_run,
      case when dry_run then 'done' else 'pending' end,
      -- The clauses of replaySql.bulkClauses / DlqFilterSql.clauses, over the stored filter.
      (select count(*) from redrive.job_dlq d
       where d.replayed_at is null and d.id <= s.max_dlq_id
         and (scope_tenant = '*' or d.tenant_id = scope_tenant)
         and (filter ->> 'tenantId' is null or d.tenant_id = filter ->> 'tenantId')
         and (filter ->> 'queue' is null or d.queue = filter ->> 'queue')
         and (filter ->> 'type' is null or d.type = filter ->> 'type')
         and (filter ->> 'errorClass' is null or d.error_class = filter ->> 'errorClass')
         and (filter ->> 'fingerprint' is null or d.fingerprint = filter ->> 'fingerprint')
         and (dlq_from is null or d.dlq_at >= dlq_from)
         and (dlq_to is null or d.dlq_at < dlq_to)
         and (not filter ? 'ids' or d.id = any(ids))),
      rate_per_sec, requested_by,
      case when dry_run then now() end, case when dry_run then now() end
    from snapshot s
    on conflict on constraint replay_request_pkey do nothing
    returning r.*;
end
$$;

-- The psql runbook's bulk replay: the scope tenant is the filter's tenant (every tenant when the
-- filter names none). Returns the request's id and how many dead letters it matched.
create function redrive.request_replay(filter jsonb, actor text, dry_run boolean default false)
returns table (id uuid, matched bigint)
language sql
set search_path = pg_catalog, pg_temp
as $$
  select r.id, r.matched
  from redrive.create_replay_request(null, coalesce(filter ->> 'tenantId', '*'), filter, dry_run, null, actor) r
$$;

do $$
declare
  fn text;
begin
  foreach fn in array array[
    'redrive.control_check(text, text, text, text)',
    'redrive.control_alert(text, redrive.control, text, text)',
    'redrive.control_lock(text, text)',
    'redrive.control_request_move(text, text, text)',
    'redrive.pause(text, text, text, text)',
    'redrive.drain(text, text, text)',
    'redrive.resume(text, text, text)',
    'redrive.move_controlled_jobs(text, text, integer)',
    'redrive.complete_drains()',
    'redrive.create_replay_request(uuid, text, jsonb, boolean, integer, text)',
    'redrive.request_replay(jsonb, text, boolean)'
  ] loop
    execute format('revoke all on function %s from public', fn);
    execute format('grant execute on function %s to redrive_runtime', fn);
  end loop;
end
$$;
