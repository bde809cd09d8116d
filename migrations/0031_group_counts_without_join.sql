set local role redrive_owner;

-- The error-group counters on an update of job_dlq (0020): pending rows after the statement minus
-- pending rows before it, per group, with no join of the two transition tables. The join (`new_rows
-- join old_rows using (id)`) was planned as a nested loop: an update of 2,000 dead letters that
-- replayed none of them compared 4,000,000 pairs (0.5 s); a replay found its first pair at once,
-- but its cost grew with the square of the batch all the same. Two scans and a hash aggregate are
-- linear; a group whose pending count does not move is not touched.
create or replace function redrive.dlq_group_on_update() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  deltas jsonb;
begin
  select jsonb_agg(g) into deltas from (
    select c.tenant_id, c.type, c.error_class, c.fingerprint, sum(c.d) as dcount, 0 as dtotal,
           null::timestamptz as first_seen, null::timestamptz as last_seen, null::bigint as sample_dlq_id,
           null::text as sample_message, null::text as sample_stack
    from (
      select n.tenant_id, n.type, n.error_class, n.fingerprint, 1 as d from new_rows n where n.replayed_at is null
      union all
      select o.tenant_id, o.type, o.error_class, o.fingerprint, -1 from old_rows o where o.replayed_at is null
    ) c
    group by 1, 2, 3, 4
    having sum(c.d) <> 0
  ) g;
  if deltas is not null then
    perform redrive.dlq_group_apply(deltas);
  end if;
  return null;
end $$;
