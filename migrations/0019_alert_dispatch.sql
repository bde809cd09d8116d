-- Alert delivery (packages/jobs/src/alerts/): email channels, per-channel rules, every try
-- recorded, storm digests, and the episode state of the evaluated events (job.failing,
-- dlq.threshold) so each fires once per episode.

set local role redrive_owner;

-- Channels: email over SMTP joins webhook and Slack; the URL scheme follows the kind.
alter table redrive.alert_channel drop constraint alert_channel_kind_valid;
alter table redrive.alert_channel add constraint alert_channel_kind_valid check (kind in ('webhook', 'slack', 'email'));
alter table redrive.alert_channel drop constraint alert_channel_url_valid;
alter table redrive.alert_channel add constraint alert_channel_url_valid
  check (case when kind = 'email' then url ~ '^smtps?://' else url ~ '^https?://' end);
alter table redrive.alert_channel
  -- email: the addresses it is sent to (at least one), and its sender.
  add column recipients     text[] not null default '{}',
  add column sender         text,
  -- Job events (dead letters, failing, recovered) of these error classes only; empty means every class.
  add column error_classes  text[] not null default '{}',
  -- job.failing: fires when a (tenant, queue, type) counts this many failures inside
  -- failing_window_s with no job of it recovering meanwhile.
  add column failing_after  integer not null default 5,
  add column failing_window_s integer not null default 300,
  -- dlq.threshold: fires when a (tenant, queue)'s unreplayed dead letters exceed it; null: never.
  add column dlq_threshold  integer,
  -- Deliveries sharing a coalesce key inside this window go out as one digest.
  add column digest_window_s integer not null default 60,
  add constraint alert_channel_email_has_recipients check (kind <> 'email' or cardinality(recipients) > 0),
  add constraint alert_channel_rules_valid check (
    failing_after >= 1 and failing_window_s between 10 and 86400 and (dlq_threshold is null or dlq_threshold >= 0)
    and digest_window_s between 0 and 3600);
-- Success events (job.recovered) are opt-in: a channel gets them only when `events` names them
-- (an empty `events` means every other event). Nothing to store for that.
grant select (recipients, sender, error_classes, failing_after, failing_window_s, dlq_threshold, digest_window_s)
  on redrive.alert_channel to redrive_tenant;

-- Deliveries: 'coalesced' rows went out inside the digest of `sent_in` (and share its fate);
-- `dedupe_key` makes an evaluated event (replay.finished, …) idempotent per channel.
alter table redrive.alert_delivery drop constraint alert_delivery_state_valid;
alter table redrive.alert_delivery add constraint alert_delivery_state_valid
  check (state in ('pending', 'delivered', 'failed', 'coalesced'));
-- A coalesced row keeps `sent_in` when its digest settles (it becomes delivered or failed with it).
alter table redrive.alert_delivery add constraint alert_delivery_coalesced_has_digest
  check (state <> 'coalesced' or sent_in is not null);
alter table redrive.alert_delivery add column dedupe_key text;
create unique index alert_delivery_dedupe_idx on redrive.alert_delivery (channel_id, dedupe_key)
  where dedupe_key is not null;
create index alert_delivery_sent_in_idx on redrive.alert_delivery (sent_in) where sent_in is not null;
-- The dispatcher gathers a digest's rows: the pending ones of a (channel, coalesce key).
create index alert_delivery_coalesce_idx on redrive.alert_delivery (channel_id, coalesce_key, id)
  where state = 'pending' and coalesce_key is not null;

-- Every try of a delivery: alert_delivery keeps the latest (attempts, last_status, last_error),
-- this keeps all of them.
create table redrive.alert_attempt (
  id          bigint generated always as identity primary key,
  delivery_id bigint not null references redrive.alert_delivery (id) on delete cascade,
  tenant_id   text,
  attempt     integer not null,
  -- delivered; failed (an answer that is not 2xx, or an error); timeout
  outcome     text not null,
  status_code integer,
  error       text,
  duration_ms integer not null,
  -- how many deliveries this message carried (1, or a digest's count)
  carried     integer not null default 1,
  at          timestamptz(3) not null default now(),
  constraint alert_attempt_outcome_valid check (outcome in ('delivered', 'failed', 'timeout')),
  constraint alert_attempt_counts_valid check (attempt >= 1 and duration_ms >= 0 and carried >= 1)
);
create index alert_attempt_delivery_idx on redrive.alert_attempt (delivery_id, attempt);
alter table redrive.alert_attempt enable row level security;
alter table redrive.alert_attempt force row level security;
create policy alert_attempt_runtime on redrive.alert_attempt for all to redrive_runtime using (true) with check (true);
create policy alert_attempt_tenant on redrive.alert_attempt for select to redrive_tenant
  using (tenant_id = (select redrive.current_tenant()));
grant select on redrive.alert_attempt to redrive_tenant;

-- A digest window per (channel, coalesce key): while it is open, new deliveries of the key wait
-- for its end and then go out together.
create table redrive.alert_window (
  channel_id   bigint not null references redrive.alert_channel (id) on delete cascade,
  coalesce_key text not null,
  until        timestamptz(3) not null,
  primary key (channel_id, coalesce_key)
);
alter table redrive.alert_window enable row level security;
alter table redrive.alert_window force row level security;
create policy alert_window_runtime on redrive.alert_window for all to redrive_runtime using (true) with check (true);

-- An open episode of an evaluated event for a channel (job.failing of a type, dlq.threshold of a
-- queue): its row exists while the condition holds, so the event fires once when it starts.
create table redrive.alert_episode (
  channel_id bigint not null references redrive.alert_channel (id) on delete cascade,
  event      text not null,
  scope      text not null,
  opened_at  timestamptz(3) not null default now(),
  primary key (channel_id, event, scope)
);
alter table redrive.alert_episode enable row level security;
alter table redrive.alert_episode force row level security;
create policy alert_episode_runtime on redrive.alert_episode for all to redrive_runtime using (true) with check (true);

-- replay.finished is found by a maintenance pass over recently finished requests.
create index replay_request_finished_idx on redrive.replay_request (finished_at) where finished_at is not null;
