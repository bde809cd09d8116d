-- A muted error group (ErrorGroups.mute, dlq_group_mute) writes no job.dead_lettered alerts while
-- the mute is in force: the dead-letter statement (internal/deadLetterSql.ts) asks this function
-- for each dead letter a channel would be told of. The newest row of the tenant's key and of the
-- every-tenant key decide (an unmute is a row ending at its own time).

set local role redrive_owner;

create function redrive.group_muted(p_type text, p_class text, p_fingerprint text, p_tenant text)
returns boolean
language sql stable
as $$
  select exists (
    select 1
    from (values (p_tenant), (null::text)) as k(tenant_id), lateral (
      select m.muted_until from redrive.dlq_group_mute m
      where m.type = p_type and m.error_class = p_class and m.fingerprint = p_fingerprint
        and m.tenant_id is not distinct from k.tenant_id
      order by m.id desc limit 1
    ) newest
    where newest.muted_until > now()
  )
$$;
revoke all on function redrive.group_muted(text, text, text, text) from public;
grant execute on function redrive.group_muted(text, text, text, text) to redrive_runtime, redrive_tenant;
