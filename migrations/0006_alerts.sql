-- Alert channels (a tenant's, or global when tenant_id is null) and the deliveries to them:
-- an outbox written in the same transaction as the event, and the history of every try.
create table redrive.alert_channel (
  id           bigint generated always as identity primary key,
  tenant_id    text,
  name         text not null,
  kind         text not null,
  url          text not null,
  secret       text,
  -- Event names this channel wants; empty means every event.
  events       text[] not null default '{}',
  -- Only job events of priority <= min_priority are sent (1 = most urgent only, 10 = all).
  min_priority smallint not null default 10,
  enabled      boolean not null default true,
  created_at   timestamptz(3) not null default now(),
  updated_at   timestamptz(3) not null default now(),
  constraint alert_channel_kind_valid check (kind in ('webhook', 'slack')),
  constraint alert_channel_url_valid check (url ~ '^https?://'),
  constraint alert_channel_name_valid check (name <> ''),
  constraint alert_channel_min_priority_range check (min_priority between 1 and 10),
  constraint alert_channel_name_unique unique nulls not distinct (tenant_id, name)
);

create table redrive.alert_delivery (
  id              bigint generated always as identity primary key,
  channel_id      bigint not null references redrive.alert_channel (id) on delete cascade,
  tenant_id       text,
  event           text not null,
  payload         jsonb not null,
  -- Deliveries with one key inside a window are sent as one digest (storm coalescing).
  coalesce_key    text,
  -- The delivery whose message carried this one as part of a digest.
  sent_in         bigint,
  state           text not null default 'pending',
  attempts        integer not null default 0,
  next_attempt_at timestamptz(3) not null default now(),
  last_status     integer,
  last_error      text,
  created_at      timestamptz(3) not null default now(),
  delivered_at    timestamptz(3),
  constraint alert_delivery_event_valid check (event ~ '^[a-z_]+\.[a-z_]+$'),
  constraint alert_delivery_payload_is_object check (jsonb_typeof(payload) = 'object'),
  constraint alert_delivery_state_valid check (state in ('pending', 'delivered', 'failed')),
  constraint alert_delivery_attempts_valid check (attempts >= 0),
  constraint alert_delivery_delivered_has_time check ((state = 'delivered') = (delivered_at is not null))
);

create index alert_delivery_due_idx on redrive.alert_delivery (next_attempt_at, id) where state = 'pending';
create index alert_delivery_channel_idx on redrive.alert_delivery (channel_id, created_at desc);
create index alert_delivery_created_idx on redrive.alert_delivery (created_at);
