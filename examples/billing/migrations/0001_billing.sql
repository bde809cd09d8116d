-- The billing service's own tables, applied after Redrive's by the same runner under the
-- migration source "billing" (a history of its own in redrive.schema_migration).
create schema billing;

create table billing.invoice (
  id           bigint generated always as identity primary key,
  tenant_id    text not null,
  customer     text not null check (length(customer) between 1 and 200),
  amount_cents integer not null check (amount_cents > 0),
  status       text not null default 'open' check (status in ('open', 'paid', 'refused')),
  payment_ref  text,
  created_at   timestamptz not null default now(),
  paid_at      timestamptz
);
create index invoice_tenant_idx on billing.invoice (tenant_id, id);

-- Behind Redrive's tenant wall: a `Tenant.withTenant` block sees and writes its tenant's rows only,
-- the runtime role (the service's workers) every tenant's.
select redrive.grant_tenant_access('billing.invoice', 'tenant_id');
