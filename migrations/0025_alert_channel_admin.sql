-- Alert channels managed by the library (packages/jobs/src/alerts/AlertChannels.ts): whether a
-- channel has a secret, readable by the tenant role (which may not read the secret itself), and
-- the audit trail of every change to a channel (who, what, when).

set local role redrive_owner;

alter table redrive.alert_channel
  add column has_secret boolean generated always as (secret is not null and secret <> '') stored;
grant select (has_secret) on redrive.alert_channel to redrive_tenant;

-- Append-only. No foreign key: the trail of a removed channel stays. `fields` names the fields a
-- change set (`secret` when it was rotated or cleared): never a value, so no secret is recorded.
create table redrive.alert_channel_event (
  id         bigint generated always as identity primary key,
  channel_id bigint not null,
  -- The channel's tenant; null: a global channel.
  tenant_id  text,
  action     text not null,
  fields     text[] not null default '{}',
  by         text not null,
  at         timestamptz(3) not null default now(),
  constraint alert_channel_event_action_valid check (action in ('created', 'updated', 'removed', 'tested')),
  constraint alert_channel_event_by_valid check (by <> '')
);
create index alert_channel_event_channel_idx on redrive.alert_channel_event (channel_id, id);
create index alert_channel_event_at_idx on redrive.alert_channel_event (at);

alter table redrive.alert_channel_event enable row level security;
alter table redrive.alert_channel_event force row level security;
create policy alert_channel_event_runtime on redrive.alert_channel_event for all to redrive_runtime
  using (true) with check (true);
create policy alert_channel_event_tenant on redrive.alert_channel_event for select to redrive_tenant
  using (tenant_id = (select redrive.current_tenant()));
grant select on redrive.alert_channel_event to redrive_tenant;
