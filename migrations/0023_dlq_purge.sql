-- Operators' purges of dead letters (packages/jobs/src/DeadLetterPurge.ts, `redrive purge dlq`):
-- one audit row per purge that deleted (not per dry run), kept like the control audit trail.

set local role redrive_owner;

create table redrive.dlq_purge (
  id            bigint generated always as identity primary key,
  -- The tenant the filter named, or '*' for every tenant.
  tenant_id     text not null,
  -- The DlqFilter as given (encoded: ISO dates, ids as numbers).
  filter        jsonb not null,
  older_than_ms bigint,
  -- Dead letters deleted so far: each batch adds its own in the statement that deletes them.
  deleted       bigint not null default 0,
  purged_by     text not null,
  reason        text,
  started_at    timestamptz(3) not null default now(),
  finished_at   timestamptz(3),
  constraint dlq_purge_filter_object check (jsonb_typeof(filter) = 'object'),
  constraint dlq_purge_by_valid check (purged_by <> '' and length(purged_by) <= 256),
  constraint dlq_purge_older_than_positive check (older_than_ms is null or older_than_ms > 0)
);
create index dlq_purge_started_idx on redrive.dlq_purge (started_at);

-- The runtime writes it (an operator's command); nothing is granted to redrive_tenant.
alter table redrive.dlq_purge enable row level security;
alter table redrive.dlq_purge force row level security;
create policy dlq_purge_runtime on redrive.dlq_purge for all to redrive_runtime using (true) with check (true);
