-- The schema every Redrive table lives in, and the role tenant-scoped work runs as.
create schema if not exists redrive;

-- NOLOGIN: nobody connects as redrive_tenant; a connection switches to it with
-- SET LOCAL ROLE inside a transaction so that row-level security applies.
-- Roles are cluster-wide, so two databases migrating at once may race here.
do $$
begin
  create role redrive_tenant nologin;
exception when duplicate_object or unique_violation then null;
end $$;

-- A non-superuser owner must be a member to SET ROLE; for a superuser this is a no-op.
do $$
begin
  execute format('grant redrive_tenant to %I', current_user);
exception when duplicate_object or unique_violation then null;
end $$;

grant usage on schema redrive to redrive_tenant;
