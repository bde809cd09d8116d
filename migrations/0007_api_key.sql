-- API keys for the HTTP and RPC interfaces. Only the SHA-256 of the secret is stored.
-- tenant_id null = an admin key. Not tenant-visible: redrive_tenant has no grant on it.
create table redrive.api_key (
  id           bigint generated always as identity primary key,
  tenant_id    text,
  name         text not null,
  hash         text not null,
  created_at   timestamptz(3) not null default now(),
  last_used_at timestamptz(3),
  revoked_at   timestamptz(3),
  constraint api_key_name_valid check (name <> ''),
  constraint api_key_hash_valid check (hash ~ '^[0-9a-f]{64}$'),
  constraint api_key_tenant_id_valid check (tenant_id is null or (tenant_id <> '' and tenant_id <> '*'))
);

create unique index api_key_hash_idx on redrive.api_key (hash);
