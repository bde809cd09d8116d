-- Pause and drain state per scope (tenant_id, queue); either may be '*' (every tenant / every queue).
-- No row means the scope runs. A resume deletes the row; control_event keeps the audit trail.
create table redrive.control (
  tenant_id          text not null,
  queue              text not null,
  state              text not null,
  reason             text,
  initiated_by       text not null,
  initiated_at       timestamptz(3) not null default now(),
  drain_completed_at timestamptz(3),
  updated_at         timestamptz(3) not null default now(),
  primary key (tenant_id, queue),
  constraint control_tenant_id_valid check (tenant_id <> ''),
  constraint control_queue_valid check (queue <> ''),
  constraint control_state_valid check (state in ('paused', 'draining', 'drained')),
  constraint control_drained_has_time check ((state = 'drained') = (drain_completed_at is not null))
);

-- Every pause, resume, drain and drain completion, with who and why.
create table redrive.control_event (
  id             bigint generated always as identity primary key,
  tenant_id      text not null,
  queue          text not null,
  action         text not null,
  previous_state text,
  reason         text,
  actor          text not null,
  at             timestamptz(3) not null default now(),
  constraint control_event_action_valid check (action in ('pause', 'resume', 'drain', 'drain_completed')),
  constraint control_event_previous_state_valid check (previous_state is null or previous_state in ('paused', 'draining', 'drained'))
);

create index control_event_scope_idx on redrive.control_event (tenant_id, at desc, id desc);
create index control_event_at_idx on redrive.control_event (at);
