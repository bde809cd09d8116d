-- Appends an entry to an error history, capped: the first entry and the newest (cap - 2)
-- are kept, and one {"kind":"dropped","count":n,"at":...} entry after the first counts the
-- elided ones. The settle and rescue statements use it; ErrorHistory.append is its TS twin.
create function redrive.history_append(history jsonb, entry jsonb, cap integer)
returns jsonb
language plpgsql
immutable
parallel safe
as $$
declare
  h jsonb := history || jsonb_build_array(entry);
  n integer := jsonb_array_length(h);
  has_marker boolean;
  tail_start integer;
  dropped bigint;
begin
  if cap < 3 then
    raise exception 'history cap must be at least 3, got %', cap using errcode = '22023';
  end if;
  if n <= cap then
    return h;
  end if;
  has_marker := (h -> 1 ->> 'kind') = 'dropped';
  tail_start := case when has_marker then 2 else 1 end;
  dropped := case when has_marker then (h -> 1 ->> 'count')::bigint else 0 end + (n - tail_start - (cap - 2));
  return jsonb_build_array(h -> 0, jsonb_build_object('kind', 'dropped', 'count', dropped, 'at', entry -> 'at'))
    || (select jsonb_agg(e order by i) from jsonb_array_elements(h) with ordinality as t(e, i) where i > n - (cap - 2));
end $$;

-- A timestamp as the ISO-8601 text a JS Date prints (UTC, milliseconds), for history entries.
create function redrive.iso_ms(t timestamptz)
returns text
language sql
stable
parallel safe
as $$ select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
