-- Durable bulk replays: the filter is snapshotted, the work runs in batches under a lease,
-- and a crashed runner's request is resumed by the next one. Rows already replayed are
-- stamped in job_dlq, so a resumed request never replays a dead letter twice.
create table redrive.replay_request (
  id              uuid primary key default gen_random_uuid(),
  tenant_id       text not null,
  filter          jsonb not null,
  -- Dead letters newer than the request are not part of it.
  max_dlq_id      bigint not null default 0,
  dry_run         boolean not null default false,
  state           text not null default 'pending',
  matched         bigint not null default 0,
  replayed        bigint not null default 0,
  rate_per_sec    integer,
  requested_by    text not null,
  locked_by       text,
  locked_until    timestamptz(3),
  error           text,
  created_at      timestamptz(3) not null default now(),
  started_at      timestamptz(3),
  finished_at     timestamptz(3),
  updated_at      timestamptz(3) not null default now(),
  constraint replay_request_tenant_id_valid check (tenant_id <> ''),
  constraint replay_request_filter_is_object check (jsonb_typeof(filter) = 'object'),
  constraint replay_request_state_valid check (state in ('pending', 'running', 'done', 'cancelled', 'failed')),
  constraint replay_request_counts_valid check (matched >= 0 and replayed >= 0),
  constraint replay_request_rate_valid check (rate_per_sec is null or rate_per_sec > 0),
  constraint replay_request_finished_has_time check (state not in ('done', 'cancelled', 'failed') or finished_at is not null)
);

create index replay_request_open_idx on redrive.replay_request (created_at) where state in ('pending', 'running');
create index replay_request_tenant_idx on redrive.replay_request (tenant_id, created_at desc);
