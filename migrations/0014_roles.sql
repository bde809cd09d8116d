-- Roles that make row-level security a wall rather than advice (issue 9).
--
--   redrive_owner    NOLOGIN. Owns the schema and everything in it. Nobody works as it: only the
--                    few SECURITY DEFINER functions below run with its rights.
--   redrive_runtime  LOGIN. What the library and the server connect as (DATABASE_URL): workers,
--                    maintenance, replay runners, admin operations. Sees every tenant, changes
--                    no schema, is not a superuser.
--   redrive_tenant   LOGIN. What tenant-scoped work connects as, on a pool of its own
--                    (Tenant.withTenant). It sees a row only when the row's tenant matches a
--                    tenant token the runtime sealed: `set_config` of a tenant id, `reset role`
--                    or `set role` lead nowhere, because the session itself is the tenant role
--                    and a token cannot be forged without the owner-only key.
--
-- Migrations run as an administrator (a superuser, or a role with CREATEROLE that may create in
-- the database). From this file on, a migration that creates objects starts with
-- `set local role redrive_owner`, so the owner owns them and the default privileges apply
-- (schema.test.ts checks every object's owner, grants and policies).
-- Passwords are not set here (no secret in a migration): `\password redrive_runtime` in psql.

do $$
begin
  create role redrive_owner nologin;
exception when duplicate_object or unique_violation then null;
end $$;
do $$
begin
  create role redrive_runtime login;
exception when duplicate_object or unique_violation then null;
end $$;
-- Created NOLOGIN by 0001; tenant sessions now log in as it.
alter role redrive_tenant login;

-- The migrating role must be able to act as the owner (a no-op for a superuser).
do $$
begin
  execute format('grant redrive_owner to %I', current_user);
exception when duplicate_object or unique_violation or invalid_grant_operation then null;
end $$;

-- Nobody but the migrating administrator may switch into the tenant role any more.
revoke redrive_tenant from redrive_runtime;

-- Ownership of everything that exists so far.
alter schema redrive owner to redrive_owner;
do $$
declare
  r record;
begin
  for r in select c.relname, c.relkind from pg_class c
           where c.relnamespace = 'redrive'::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
  loop
    execute format('alter %s redrive.%I owner to redrive_owner',
                   case r.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end, r.relname);
  end loop;
  for r in select p.oid::regprocedure as fn from pg_proc p where p.pronamespace = 'redrive'::regnamespace
  loop
    execute format('alter function %s owner to redrive_owner', r.fn);
  end loop;
end $$;

set local role redrive_owner;

-- The tenant seal: an HMAC-SHA-256 key as its precomputed inner and outer pads (so the HMAC
-- needs only the built-in sha256). Readable by the owner only.
create table redrive.tenant_seal (
  id        boolean primary key default true,
  inner_key bytea not null,
  outer_key bytea not null,
  constraint tenant_seal_one_row check (id),
  constraint tenant_seal_key_length check (length(inner_key) = 64 and length(outer_key) = 64)
);
revoke all on redrive.tenant_seal from public;

do $$
declare
  -- 4 × 122 random bits from the server's strong random source.
  k bytea := decode(replace(gen_random_uuid()::text || gen_random_uuid()::text
                         || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
  i bytea := k;
  o bytea := k;
begin
  for n in 0..63 loop
    i := set_byte(i, n, get_byte(k, n) # 54);  -- 0x36
    o := set_byte(o, n, get_byte(k, n) # 92);  -- 0x5c
  end loop;
  insert into redrive.tenant_seal (inner_key, outer_key) values (i, o);
end $$;

-- A token for a tenant: hex(HMAC(key, tenant)) || '.' || tenant. Only the runtime may mint one.
create function redrive.seal_tenant(tenant text) returns text
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select encode(sha256(s.outer_key || sha256(s.inner_key || convert_to(tenant, 'UTF8'))), 'hex') || '.' || tenant
  from redrive.tenant_seal s
  where tenant <> '' and tenant <> '*' and tenant <> 'default'
$$;
revoke all on function redrive.seal_tenant(text) from public;
grant execute on function redrive.seal_tenant(text) to redrive_runtime;

-- The tenant of this transaction: the one its token was sealed for. No token: null (no row
-- matches). A token that does not verify is an attack or a bug: refused loudly.
create function redrive.current_tenant() returns text
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  token  text := current_setting('redrive.tenant_token', true);
  mac    text;
  tenant text;
begin
  if token is null or token = '' then
    return null;
  end if;
  mac := split_part(token, '.', 1);
  tenant := substr(token, length(mac) + 2);
  if length(mac) = 64 and redrive.seal_tenant(tenant) = token then
    return tenant;
  end if;
  raise exception 'invalid tenant token' using errcode = '42501';
end $$;
revoke all on function redrive.current_tenant() from public;
grant execute on function redrive.current_tenant() to redrive_tenant, redrive_runtime;

-- Row-level security, forced (the owner too), on every table that holds tenant data. The
-- runtime sees every row; the tenant role its own. The old policies keyed on a setting anyone
-- could set are dropped.
do $$
declare
  t text;
begin
  foreach t in array array['job', 'job_dlq', 'control', 'control_event', 'replay_request', 'alert_channel',
                           'alert_delivery', 'failure_stat', 'api_key']
  loop
    execute format('alter table redrive.%I enable row level security', t);
    execute format('alter table redrive.%I force row level security', t);
    execute format('revoke all on redrive.%I from redrive_tenant', t);
    execute format('create policy %I on redrive.%I for all to redrive_runtime using (true) with check (true)',
                   t || '_runtime', t);
    execute format('grant select, insert, update, delete on redrive.%I to redrive_runtime', t);
  end loop;
  foreach t in array array['job', 'job_dlq', 'control_event', 'replay_request', 'alert_channel', 'alert_delivery',
                           'failure_stat']
  loop
    execute format('drop policy %I on redrive.%I', t || '_tenant_isolation', t);
    -- `for all`: the grants below decide which commands a tenant may run at all.
    execute format(
      'create policy %I on redrive.%I for all to redrive_tenant
         using (tenant_id = (select redrive.current_tenant()))
         with check (tenant_id = (select redrive.current_tenant()))',
      t || '_tenant', t);
  end loop;
end $$;

drop policy control_tenant_read on redrive.control;
drop policy control_tenant_insert on redrive.control;
drop policy control_tenant_update on redrive.control;
drop policy control_tenant_delete on redrive.control;
-- A tenant sees its own scopes and the global ones ('*') that affect it.
create policy control_tenant_read on redrive.control for select to redrive_tenant
  using (tenant_id in ((select redrive.current_tenant()), '*'));

-- What the tenant role may do: exactly what the library's tenant-scoped statements need.
--   job: read; enqueue (every column but the id and the lineage); cancel and retry-now (every
--     column but the id, the tenant, the lineage and the creation time). Column grants, so a
--     tenant can neither pick ids (`overriding system value`) nor lock the table.
--   job_dlq, replay_request, control, control_event, alert_delivery, failure_stat: read-only.
--     Dead letters, replay requests, controls with their audit rows, and deliveries are written
--     by the runtime role on the library's behalf, pinned to the caller's tenant.
--   alert_channel: every column but the secret. api_key, tenant_seal: nothing.
do $$
declare
  insertable text;
  updatable  text;
begin
  select string_agg(quote_ident(column_name), ', ' order by ordinal_position)
         filter (where column_name not in ('id', 'replay_of')),
         string_agg(quote_ident(column_name), ', ' order by ordinal_position)
         filter (where column_name not in ('id', 'tenant_id', 'replay_of', 'created_at'))
    into insertable, updatable
    from information_schema.columns
   where table_schema = 'redrive' and table_name = 'job';
  execute format('grant insert (%s) on redrive.job to redrive_tenant', insertable);
  execute format('grant update (%s) on redrive.job to redrive_tenant', updatable);
end $$;
grant select on redrive.job, redrive.job_dlq, redrive.replay_request, redrive.control, redrive.control_event,
  redrive.alert_delivery, redrive.failure_stat to redrive_tenant;
grant select (id, tenant_id, name, kind, url, events, min_priority, enabled, created_at, updated_at)
  on redrive.alert_channel to redrive_tenant;
-- Identity columns need no sequence privilege; 0010 granted it anyway.
revoke usage on all sequences in schema redrive from redrive_tenant;

-- The runtime: data, not schema.
grant usage on schema redrive to redrive_runtime;
grant select on redrive.schema_migration to redrive_runtime;
grant select on redrive.queue_health, redrive.dlq_inspector, redrive.failure_stats, redrive.alert_backlog
  to redrive_runtime;
alter default privileges for role redrive_owner in schema redrive
  grant select, insert, update, delete on tables to redrive_runtime;

-- @effect/cluster creates its own tables (cluster_messages, cluster_runners, …) in the first
-- schema of the search path when a runner starts: the runtime may create there, and only there.
reset role;
grant create on schema public to redrive_runtime;
