-- Row-level security: under SET LOCAL ROLE redrive_tenant with redrive.tenant_id set,
-- a transaction sees and writes only its tenant's rows. The owning role (workers, admins)
-- bypasses RLS as the table owner. An unset tenant matches nothing.

do $$
declare
  t text;
begin
  foreach t in array array['job', 'job_dlq', 'control_event', 'replay_request', 'alert_channel', 'alert_delivery', 'failure_stat']
  loop
    execute format('alter table redrive.%I enable row level security', t);
    execute format(
      'create policy %I on redrive.%I for all to redrive_tenant
         using (tenant_id = current_setting(''redrive.tenant_id'', true))
         with check (tenant_id = current_setting(''redrive.tenant_id'', true))',
      t || '_tenant_isolation', t);
    execute format('grant select, insert, update, delete on redrive.%I to redrive_tenant', t);
  end loop;
end $$;

-- control: a tenant also sees the global scopes ('*') that affect it, but writes only its own.
alter table redrive.control enable row level security;
create policy control_tenant_read on redrive.control for select to redrive_tenant
  using (tenant_id in (current_setting('redrive.tenant_id', true), '*'));
create policy control_tenant_insert on redrive.control for insert to redrive_tenant
  with check (tenant_id = current_setting('redrive.tenant_id', true));
create policy control_tenant_update on redrive.control for update to redrive_tenant
  using (tenant_id = current_setting('redrive.tenant_id', true))
  with check (tenant_id = current_setting('redrive.tenant_id', true));
create policy control_tenant_delete on redrive.control for delete to redrive_tenant
  using (tenant_id = current_setting('redrive.tenant_id', true));
grant select, insert, update, delete on redrive.control to redrive_tenant;

-- Identity columns draw from sequences.
grant usage on all sequences in schema redrive to redrive_tenant;

grant select on redrive.queue_health, redrive.dlq_inspector, redrive.failure_stats, redrive.alert_backlog to redrive_tenant;
