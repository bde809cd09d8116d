-- The live queue. A row is a job that has not finished: completed jobs are deleted
-- unless a retention for completed jobs is configured.
create table redrive.job (
  id              bigint generated always as identity primary key,
  tenant_id       text not null default 'default',
  queue           text not null default 'default',
  type            text not null,
  payload         jsonb not null default '{}'::jsonb,
  priority        smallint not null default 5,
  state           text not null default 'available',
  attempt         integer not null default 0,
  max_attempts    integer not null default 5,
  -- timestamptz(3): millisecond precision, so a value round-trips through a JS Date exactly.
  run_at          timestamptz(3) not null default now(),
  locked_by       text,
  locked_until    timestamptz(3),
  heartbeat_at    timestamptz(3),
  error_history   jsonb not null default '[]'::jsonb,
  idempotency_key text,
  replay_of       bigint,
  request_id      text,
  user_id         text,
  created_at      timestamptz(3) not null default now(),
  updated_at      timestamptz(3) not null default now(),
  completed_at    timestamptz(3),
  -- '*' is the wildcard of a control scope, so it can never be a real tenant or queue.
  constraint job_tenant_id_valid check (tenant_id <> '' and tenant_id <> '*' and length(tenant_id) <= 128),
  constraint job_queue_valid check (queue <> '' and queue <> '*' and length(queue) <= 128),
  constraint job_type_valid check (type <> '' and length(type) <= 128),
  constraint job_priority_range check (priority between 1 and 10),
  constraint job_state_valid check (state in ('available', 'paused', 'running', 'completed', 'cancelled')),
  constraint job_attempt_valid check (attempt >= 0),
  constraint job_max_attempts_valid check (max_attempts >= 1),
  constraint job_error_history_is_array check (jsonb_typeof(error_history) = 'array'),
  constraint job_running_has_lease check (state <> 'running' or locked_until is not null),
  constraint job_completed_has_time check (state not in ('completed', 'cancelled') or completed_at is not null)
) with (
  -- Claims and deletes leave dead entries at the head of the claim index: vacuum early and often.
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 500,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 0
);

comment on table redrive.job is 'Live jobs: available (waiting or scheduled), paused (waiting in a paused scope), running (leased), completed/cancelled (kept only under a retention).';
comment on column redrive.job.replay_of is 'job_dlq.id this job was replayed from (lineage; no foreign key so pruning dead letters keeps the job).';

-- The claim: per queue and tenant (tenant-fair claims walk it tenant by tenant), most urgent
-- first, then oldest due. The same index serves the loose scan for tenants with work.
create index job_claim_idx on redrive.job (queue, tenant_id, priority, run_at, id) where state = 'available';
-- The rescuer: running jobs by lease expiry.
create index job_rescue_idx on redrive.job (locked_until) where state = 'running';
-- An idempotency key is unique among unfinished jobs of a tenant's queue.
create unique index job_idempotency_idx on redrive.job (tenant_id, queue, idempotency_key)
  where idempotency_key is not null and state in ('available', 'paused', 'running');
-- Resume: the waiting jobs of a paused scope. Partial, so the claim/settle hot path never
-- touches it (a full (tenant, queue, state) index cost every claim an extra index entry).
create index job_paused_idx on redrive.job (tenant_id, queue) where state = 'paused';
-- Retention of completed and cancelled jobs.
create index job_finished_idx on redrive.job (completed_at) where state in ('completed', 'cancelled');
