-- pg_trgm out of the redrive schema. 0029 created it in the first schema of the migrating role's
-- search_path: "$user" comes first, so a role named `redrive` (the embedded server's superuser) put
-- the extension's functions into `redrive`, a schema whose objects must all be redrive_owner's
-- (roles.test.ts). The extension is relocatable; its index keeps working wherever it lives.
do $$
begin
  if exists (select 1 from pg_extension e join pg_namespace n on n.oid = e.extnamespace
             where e.extname = 'pg_trgm' and n.nspname = 'redrive') then
    begin
      alter extension pg_trgm set schema public;
    exception when insufficient_privilege or invalid_schema_name then
      raise notice 'redrive 0032: pg_trgm could not be moved out of schema redrive: %', sqlerrm;
    end;
  end if;
end $$;
