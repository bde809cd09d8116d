-- Retention (packages/jobs/src/Pruner.ts) and reruns of finished jobs (JobCommands.rerun).

set local role redrive_owner;

-- Finished replay requests are pruned by the time they finished: replay_request_finished_idx
-- (0019, `(finished_at) where finished_at is not null`) serves that predicate.

-- A rerun's lineage. `replay_of` names a dead letter (job_dlq.id); a rerun names the finished job
-- it re-runs (job.id), an id of another sequence, hence a column of its own. No foreign key: the
-- finished job is pruned under its retention and the rerun keeps its lineage. The tenant role's
-- column grants (0014) were taken before this column existed: a tenant cannot write it.
alter table redrive.job add column rerun_of bigint;
comment on column redrive.job.rerun_of is
  'job.id of the completed or cancelled job this job re-runs (lineage; no foreign key, so pruning the finished job keeps it).';

-- The client keys of reruns: the same (tenant, request key) returns the job the first call created,
-- even after that job has finished and been deleted (the `idempotency_key` of job only holds among
-- unfinished jobs, so it cannot answer a retried call once the job ran). Pruned after 30 days.
create table redrive.job_rerun (
  tenant_id     text not null,
  request_key   text not null,
  source_job_id bigint not null,
  job_id        bigint not null,
  requested_by  text not null,
  created_at    timestamptz(3) not null default now(),
  primary key (tenant_id, request_key),
  constraint job_rerun_request_key_valid check (request_key <> '' and length(request_key) <= 256)
);
create index job_rerun_created_idx on redrive.job_rerun (created_at);

-- Written by the runtime on a tenant's behalf (Tenant.onRuntime, pinned to the tenant); nothing is
-- granted to redrive_tenant (reruns are read through the job's rerun_of).
alter table redrive.job_rerun enable row level security;
alter table redrive.job_rerun force row level security;
create policy job_rerun_runtime on redrive.job_rerun for all to redrive_runtime using (true) with check (true);
