-- redrive.move_controlled_jobs (0018) without the state test in its UPDATEs: with the statistics
-- of a table whose scope just moved by the hundred thousand, the planner read `state = 'paused'`
-- as "walk the partial index of paused jobs" and filtered 800,000 entries for each batch of 10,000
-- (bench/pause-million.ts: a resume batch took 40 s). The picked rows are locked, and their state
-- checked under the lock, by the same statement.

set local role redrive_owner;

create or replace function redrive.move_controlled_jobs(tenant text default null, queue text default null,
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
      -- `= any(array(…))` and nothing else: a primary-key lookup per id. The rows are locked and
      -- re-checked by `picked`, so their state needs no second test; with one, stale statistics
      -- made the planner walk the whole partial index of the state instead (40 s a batch at 1M).
      update redrive.job j set state = 'paused', updated_at = now()
      where j.id = any(array(select p.id from picked p))
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
      where j.id = any(array(select p.id from picked p))
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
