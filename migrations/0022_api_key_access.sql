-- API keys for the server (packages/server/src/auth/ApiKeys.ts): a read-only scope (a read key
-- may look but not act), and the lineage of a rotation (the new key names the key it replaces;
-- both work until the old one is revoked).

set local role redrive_owner;

alter table redrive.api_key
  add column access text not null default 'write',
  add column rotated_from bigint,
  add constraint api_key_access_valid check (access in ('write', 'read'));

comment on column redrive.api_key.access is
  'write: every operation of its scope; read: reads only (an action is refused with 403).';
comment on column redrive.api_key.rotated_from is
  'api_key.id of the key this one was rotated from (no foreign key: the old key row may be deleted).';
