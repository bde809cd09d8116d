-- The circuit breaker (packages/jobs/src/Circuit.ts, CircuitBreaker.ts): a job type whose
-- dependency is down is paused by an ordinary control row, and its waiting jobs wait as 'paused'.

set local role redrive_owner;

-- Controls gain a third dimension, the job type; '*' (every type) is the default, so the rows
-- that exist keep meaning what they meant.
alter table redrive.control add column type text not null default '*';
alter table redrive.control add constraint control_type_valid check (type <> '' and length(type) <= 128);
alter table redrive.control drop constraint control_pkey;
alter table redrive.control add primary key (tenant_id, queue, type);
-- 'probing': a type's circuit is half-open. The type stays paused (enqueue writes 'paused') except
-- for the few probe jobs the breaker made available; only a type's row can be probing.
alter table redrive.control drop constraint control_state_valid;
alter table redrive.control add constraint control_state_valid
  check (state in ('paused', 'draining', 'drained', 'probing'));
alter table redrive.control add constraint control_probing_has_type check (state <> 'probing' or type <> '*');

alter table redrive.control_event add column type text not null default '*';
alter table redrive.control_event drop constraint control_event_action_valid;
alter table redrive.control_event add constraint control_event_action_valid
  check (action in ('pause', 'resume', 'drain', 'drain_completed', 'probe'));
alter table redrive.control_event drop constraint control_event_previous_state_valid;
alter table redrive.control_event add constraint control_event_previous_state_valid
  check (previous_state is null or previous_state in ('paused', 'draining', 'drained', 'probing'));

-- Pausing and resuming a type's waiting jobs in bounded batches. Partial: the claim and settle
-- hot path never touches it (only rows that are paused are in it).
create index job_paused_type_idx on redrive.job (type, id) where state = 'paused';

-- One row per breaker-enabled type: its settings (registered by the workers that run the type)
-- and its state, driven by the maintenance leader alone.
create table redrive.circuit (
  type             text primary key,
  -- The queues the type's jobs are enqueued into: where its waiting jobs are looked for.
  queues           text[] not null default '{}',
  trip_classes     text[] not null,
  failure_ratio    double precision not null,
  min_attempts     integer not null,
  window_ms        integer not null,
  cooldown_ms      integer not null,
  max_cooldown_ms  integer not null,
  probes           integer not null,
  state            text not null default 'closed',
  -- The window counts attempts from here on: a close (or an operator's resume) starts afresh.
  counted_from     timestamptz(3) not null default now(),
  opened_at        timestamptz(3),
  -- The cool-down of the current open period (doubles on each re-open, up to max_cooldown_ms).
  open_cooldown_ms integer,
  reopens          integer not null default 0,
  half_open_at     timestamptz(3),
  probes_released  integer not null default 0,
  -- Jobs still to move after a transition ('pause': available → paused; 'resume': back), in
  -- bounded batches; kept here so a new leader finishes what a dead one started.
  pending_move     text,
  -- Bumped by every transition: a transition applies only to the version it was decided on.
  version          bigint not null default 0,
  updated_at       timestamptz(3) not null default now(),
  constraint circuit_type_valid check (type <> '' and type <> '*' and length(type) <= 128),
  constraint circuit_state_valid check (state in ('closed', 'open', 'half_open')),
  constraint circuit_pending_move_valid check (pending_move is null or pending_move in ('pause', 'resume')),
  constraint circuit_settings_valid check (
    failure_ratio > 0 and failure_ratio <= 1 and min_attempts >= 1 and window_ms >= 1000 and cooldown_ms >= 0
    and max_cooldown_ms >= cooldown_ms and probes >= 1),
  constraint circuit_open_has_time check (state = 'closed' or (opened_at is not null and open_cooldown_ms is not null)),
  constraint circuit_half_open_has_time check ((state = 'half_open') = (half_open_at is not null))
);

-- Attempts and trip-class failures of breaker-enabled types, per second, as the workers flush
-- them (one statement per worker per second). The leader sums a window of them and prunes the rest.
create table redrive.circuit_count (
  type     text not null,
  bucket   timestamptz(0) not null,
  attempts integer not null default 0,
  failures integer not null default 0,
  primary key (type, bucket),
  constraint circuit_count_valid check (attempts >= 0 and failures >= 0 and failures <= attempts)
);

-- Not tenant data (one row per type across tenants): the runtime reads and writes them (the
-- default privileges of 0014 grant it the table); no policy and no grant for redrive_tenant.
alter table redrive.circuit enable row level security;
alter table redrive.circuit force row level security;
create policy circuit_runtime on redrive.circuit for all to redrive_runtime using (true) with check (true);
alter table redrive.circuit_count enable row level security;
alter table redrive.circuit_count force row level security;
create policy circuit_count_runtime on redrive.circuit_count for all to redrive_runtime using (true) with check (true);
