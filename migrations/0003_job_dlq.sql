-- Dead letters: jobs that exhausted their attempts or were dead-lettered by a verdict,
-- with every attempt's error kept in error_history.
create table redrive.job_dlq (
  id              bigint generated always as identity primary key,
  job_id          bigint not null,
  tenant_id       text not null default 'default',
  queue           text not null,
  type            text not null,
  payload         jsonb not null,
  priority        smallint not null,
  max_attempts    integer not null,
  error_class     text not null,
  error_reason    text not null default '',
  attempts        integer not null,
  error_history   jsonb not null default '[]'::jsonb,
  fingerprint     text not null,
  first_failed_at timestamptz(3) not null,
  -- Keyset cursors walk (dlq_at, id): millisecond precision keeps them exact in JS.
  dlq_at          timestamptz(3) not null default now(),
  replayed_at     timestamptz(3),
  replayed_by     text,
  replay_job_id   bigint,
  replay_of       bigint,
  request_id      text,
  user_id         text,
  constraint job_dlq_tenant_id_valid check (tenant_id <> '' and tenant_id <> '*'),
  constraint job_dlq_priority_range check (priority between 1 and 10),
  constraint job_dlq_max_attempts_valid check (max_attempts >= 1),
  constraint job_dlq_attempts_valid check (attempts >= 0),
  -- Classes are extensible, so only their spelling is checked.
  constraint job_dlq_error_class_valid check (error_class ~ '^[a-z][a-z0-9_]{0,63}$'),
  constraint job_dlq_error_history_is_array check (jsonb_typeof(error_history) = 'array'),
  constraint job_dlq_replay_consistent check ((replayed_at is null) = (replay_job_id is null))
);

comment on table redrive.job_dlq is 'Dead letters with their full error history; replay creates a new job and stamps replayed_at/by/replay_job_id.';

-- A job is dead-lettered at most once: a second move (rescuer racing a worker) conflicts.
create unique index job_dlq_job_id_idx on redrive.job_dlq (job_id);
-- Inspection: newest unreplayed first, per tenant, and across tenants for admins.
create index job_dlq_pending_idx on redrive.job_dlq (tenant_id, dlq_at desc, id desc) where replayed_at is null;
create index job_dlq_pending_all_idx on redrive.job_dlq (dlq_at desc, id desc) where replayed_at is null;
-- The filters of inspection and bulk replay.
create index job_dlq_pending_queue_idx on redrive.job_dlq (tenant_id, queue, dlq_at desc, id desc) where replayed_at is null;
create index job_dlq_pending_type_idx on redrive.job_dlq (tenant_id, type, dlq_at desc, id desc) where replayed_at is null;
create index job_dlq_pending_class_idx on redrive.job_dlq (tenant_id, error_class, dlq_at desc, id desc) where replayed_at is null;
create index job_dlq_pending_fingerprint_idx on redrive.job_dlq (tenant_id, fingerprint, dlq_at desc, id desc) where replayed_at is null;
-- Retention of replayed dead letters.
create index job_dlq_replayed_idx on redrive.job_dlq (replayed_at) where replayed_at is not null;
