set local role redrive_owner;

-- queue_health's dead letters of the last 24 h from the per-minute failure_stat counters (written
-- by the same settle and rescue statements that write the dead letters), not a count over job_dlq:
-- at 1,000,000 dead letters that count took ~170 ms per read (bench:console), and the web console
-- reads the view on every overview refresh. A purge or the pruner no longer lowers the figure: it
-- says how many jobs died in the last 24 h. The columns and their types are unchanged.
create or replace view redrive.queue_health with (security_invoker = true) as
with live as (
  select tenant_id, queue,
         count(*) filter (where state = 'available' and run_at <= now()) as available,
         count(*) filter (where state = 'available' and run_at > now() and attempt = 0) as scheduled,
         count(*) filter (where state = 'available' and run_at > now() and attempt > 0) as retrying,
         count(*) filter (where state = 'running') as running,
         count(*) filter (where state = 'paused') as paused,
         min(run_at) filter (where state = 'available' and run_at <= now()) as oldest_available_at
  from redrive.job
  where state in ('available', 'running', 'paused')
  group by tenant_id, queue
), dead as (
  select tenant_id, queue, sum(dead_lettered)::bigint as dead_lettered_24h
  from redrive.failure_stat
  where bucket > now() - interval '24 hours' and dead_lettered > 0
  group by tenant_id, queue
)
select coalesce(l.tenant_id, d.tenant_id) as tenant_id,
       coalesce(l.queue, d.queue) as queue,
       coalesce(l.available, 0) as available,
       coalesce(l.scheduled, 0) as scheduled,
       coalesce(l.retrying, 0) as retrying,
       coalesce(l.running, 0) as running,
       coalesce(l.paused, 0) as paused,
       extract(epoch from now() - l.oldest_available_at)::double precision as oldest_available_age_s,
       coalesce(d.dead_lettered_24h, 0) as dead_lettered_24h
from live l
full join dead d on d.tenant_id = l.tenant_id and d.queue = l.queue;
