-- Operator views for psql. security_invoker: a tenant querying a view sees only its rows (RLS applies).

create view redrive.queue_health with (security_invoker = true) as
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
  select tenant_id, queue, count(*) as dead_lettered_24h
  from redrive.job_dlq
  where dlq_at > now() - interval '24 hours'
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

create view redrive.dlq_inspector with (security_invoker = true) as
select id, tenant_id, queue, type, error_class, error_reason, attempts, fingerprint,
       first_failed_at, dlq_at, replay_of,
       error_history -> -1 as last_error
from redrive.job_dlq
where replayed_at is null
order by dlq_at desc, id desc;

create view redrive.failure_stats with (security_invoker = true) as
select tenant_id, queue, type, error_class,
       coalesce(sum(failures) filter (where bucket > now() - interval '1 hour'), 0) as failures_1h,
       coalesce(sum(dead_lettered) filter (where bucket > now() - interval '1 hour'), 0) as dead_lettered_1h,
       coalesce(sum(recovered) filter (where bucket > now() - interval '1 hour'), 0) as recovered_1h,
       sum(failures) as failures_24h,
       sum(dead_lettered) as dead_lettered_24h,
       sum(recovered) as recovered_24h,
       -- Of the jobs that failed with this class, the share that later succeeded.
       round(sum(recovered)::numeric / nullif(sum(recovered) + sum(dead_lettered), 0), 4) as retry_success_rate_24h
from redrive.failure_stat
where bucket > now() - interval '24 hours'
group by tenant_id, queue, type, error_class;

create view redrive.alert_backlog with (security_invoker = true) as
select c.id as channel_id, c.tenant_id, c.name, c.kind, c.enabled,
       count(d.id) filter (where d.state = 'pending') as pending,
       min(d.created_at) filter (where d.state = 'pending') as oldest_pending_at,
       max(d.attempts) filter (where d.state = 'pending') as max_pending_attempts,
       count(d.id) filter (where d.state = 'failed' and d.created_at > now() - interval '24 hours') as failed_24h,
       max(d.delivered_at) as last_delivered_at
from redrive.alert_channel c
left join redrive.alert_delivery d on d.channel_id = c.id
group by c.id, c.tenant_id, c.name, c.kind, c.enabled;
