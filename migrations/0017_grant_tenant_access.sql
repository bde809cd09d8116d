-- For a service's own tables: `select redrive.grant_tenant_access('billing.invoice')` in one of the
-- service's migrations (run as the administrator, like every migration) puts the table behind the
-- same wall as Redrive's: forced row-level security, the runtime sees every row, a tenant block
-- only its tenant's (by the column named, `tenant_id` by default).
set local role redrive_owner;

create function redrive.grant_tenant_access(target regclass, tenant_column name default 'tenant_id') returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  seq regclass;
begin
  if not exists (select 1 from pg_attribute where attrelid = target and attname = tenant_column and not attisdropped) then
    raise exception '% has no column %', target, tenant_column using errcode = '42703';
  end if;
  execute format('alter table %s enable row level security', target);
  execute format('alter table %s force row level security', target);
  execute format('drop policy if exists redrive_runtime on %s', target);
  execute format('create policy redrive_runtime on %s for all to redrive_runtime using (true) with check (true)', target);
  execute format('drop policy if exists redrive_tenant on %s', target);
  execute format(
    'create policy redrive_tenant on %s for all to redrive_tenant
       using (%I = (select redrive.current_tenant())) with check (%I = (select redrive.current_tenant()))',
    target, tenant_column, tenant_column);
  execute format('grant select, insert, update, delete on %s to redrive_runtime, redrive_tenant', target);
  -- serial columns draw from sequences of their own (identity columns need no grant).
  for seq in select d.objid::regclass from pg_depend d
             where d.refobjid = target and d.classid = 'pg_class'::regclass and d.deptype = 'a'
               and (select relkind from pg_class where oid = d.objid) = 'S'
  loop
    execute format('grant usage on sequence %s to redrive_runtime, redrive_tenant', seq);
  end loop;
  -- The schema, if it is not Redrive's.
  execute format('grant usage on schema %I to redrive_runtime, redrive_tenant',
                 (select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = target));
end $$;
revoke all on function redrive.grant_tenant_access(regclass, name) from public;
