set local role redrive_owner;

-- The claim (0030) commits without waiting for its WAL to reach the disk (synchronous_commit off
-- for its own transaction only). An idle worker woken by one job waited 0.25-0.65 ms for that flush
-- between the claim and the handler's start, on every claim.
--
-- Why that loses nothing: a claim only moves jobs from available to running under a lease. If the
-- server crashes before the claim's WAL is flushed, the claim is undone and its jobs are available
-- again: the same as a worker that crashed after claiming, whose jobs the rescuer frees when their
-- lease ends (here at once, with the attempt not counted). Their handlers may have started; they run
-- again, as after any crash (at least once). Nothing later can outlive the claim: WAL is flushed in
-- order, so the settle of a claimed job (committed synchronously, as enqueue, replay and every other
-- write) flushes the claim with it. Only the claim's own transaction is affected: it runs as a
-- statement of its own, never inside a caller's transaction.
create or replace function redrive.claim_batch(
  p_queues text[], p_types text[], p_tenants text[], p_after text, p_limit int, p_worker text, p_lease_ms int)
returns table (
  id bigint, "tenantId" text, queue text, type text, payload jsonb, priority smallint, attempt int,
  "maxAttempts" int, "freeWaits" int, "replayOf" bigint, "lastServed" text, "traceContext" text, "waitMs" float8)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
begin
  -- Local to the claim's own transaction: it commits without waiting for the WAL flush.
  perform set_config('synchronous_commit', 'off', true);
  return query
    with recursive pairs as (
      -- Loose index scan: per queue, jump from one tenant with available jobs to the next.
      select q.queue, (
        select j.tenant_id from redrive.job j
        where j.state = 'available' and j.queue = q.queue order by j.tenant_id limit 1
      ) as tenant_id
      from unnest(p_queues) as q(queue)
      union all
      select p.queue, (
        select j.tenant_id from redrive.job j
        where j.state = 'available' and j.queue = p.queue and j.tenant_id > p.tenant_id order by j.tenant_id limit 1
      )
      from pairs p
      where p.tenant_id is not null
    ), typed_pairs as (
      -- The worker's types that no control row over the pair covers (a half-open circuit's
      -- 'probing' row does not block). Jobs of a paused type wait as 'paused' (out of the claim
      -- index); this drops those that slipped in as 'available'.
      select p.queue, p.tenant_id, array(
        select t from unnest(p_types) as t
        where not exists (
          select 1 from redrive.control ctl
          where ctl.tenant_id in (p.tenant_id, '*') and ctl.queue in (p.queue, '*') and ctl.type in (t, '*')
            and ctl.state <> 'probing'
        )
      ) as types
      from pairs p
      where p.tenant_id is not null
        and (p_tenants is null or p.tenant_id = any(p_tenants))
    ), open_pairs as (
      -- Rotated: the pairs after the tenant last served come first, so a claim smaller than the
      -- number of pairs still serves each tenant in turn.
      select p.queue, p.tenant_id, p.types,
             row_number() over (order by p.tenant_id <= p_after, p.tenant_id, p.queue) as rn
      from typed_pairs p
      where cardinality(p.types) > 0
    ), served as (
      select * from open_pairs where rn <= p_limit
    ), share as (
      select greatest(1, ceil(p_limit::numeric / greatest(count(*), 1)))::int as n from served
    ), picked as (
      select j.id from served p, share, lateral (
        select j.id from redrive.job j
        where j.state = 'available' and j.queue = p.queue and j.tenant_id = p.tenant_id
          and j.run_at <= now() and j.type = any(p.types)
        order by j.priority, j.run_at, j.id
        limit share.n
        for update skip locked
      ) j
      limit p_limit
    )
    update redrive.job j
    set state = 'running', attempt = j.attempt + 1, locked_by = p_worker,
        locked_until = now() + p_lease_ms * interval '1 millisecond', heartbeat_at = now(), updated_at = now()
    -- = any(array(...)) keeps the primary-key lookup; a join here was planned as a full scan.
    where j.id = any(array(select id from picked))
    returning j.id, j.tenant_id, j.queue, j.type, j.payload, j.priority, j.attempt, j.max_attempts, j.free_waits,
      j.replay_of, (select s.tenant_id from served s order by s.rn desc limit 1), j.trace_context,
      (extract(epoch from now() - j.run_at) * 1000)::float8;
end
$$;

