set local role redrive_owner;

-- Completed jobs per minute, per tenant and queue: the console's throughput chart, and the only
-- durable record of successes once completed jobs are deleted. Workers count completions in
-- memory and flush them every few seconds, one statement per worker (internal/ThroughputCounter.ts):
-- the settle statement, the hot path, writes nothing here. A worker killed with SIGKILL loses at
-- most its last unflushed seconds of counts, never a job. Pruned with failure_stat (Pruner.ts).
create table redrive.throughput_stat (
  tenant_id text not null,
  queue     text not null,
  bucket    timestamptz(0) not null,
  completed bigint not null default 0,
  primary key (tenant_id, queue, bucket),
  constraint throughput_stat_completed_valid check (completed >= 0)
);

create index throughput_stat_bucket_idx on redrive.throughput_stat (bucket);

-- Tenant data: the runtime writes every tenant's rows (the default privileges of 0014 grant it the
-- table); a tenant reads its own, as with failure_stat.
alter table redrive.throughput_stat enable row level security;
alter table redrive.throughput_stat force row level security;
create policy throughput_stat_runtime on redrive.throughput_stat for all to redrive_runtime
  using (true) with check (true);
create policy throughput_stat_tenant on redrive.throughput_stat for all to redrive_tenant
  using (tenant_id = (select redrive.current_tenant()))
  with check (tenant_id = (select redrive.current_tenant()));
grant select on redrive.throughput_stat to redrive_tenant;
