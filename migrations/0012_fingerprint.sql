-- The fingerprint that groups dead letters of the same problem: SHA-256 (first 16 hex digits) of
-- type, class, tag and the message with uuids, hex strings and numbers masked, so "order 41
-- failed" and "order 42 failed" fall in one group. Every dead-letter path (settle, rescue) calls
-- this one function, so a job dead-lettered by the rescuer groups with the same error settled
-- by a worker.
create function redrive.fingerprint(type text, error_class text, tag text, message text)
returns text
language sql
immutable
parallel safe
as $$
  select left(encode(sha256(convert_to(
    type || '|' || error_class || '|' || tag || '|' || left(
      regexp_replace(
        regexp_replace(
          regexp_replace(coalesce(message, ''),
            '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
          '\y0x[0-9a-f]+\y|\y[0-9a-f]{16,}\y', '<hex>', 'gi'),
        '[0-9]+', '<n>', 'g'),
      500),
    'UTF8')), 'hex'), 16)
$$;
