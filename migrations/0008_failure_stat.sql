-- Per-minute failure counters written by the settle statement, so failure rates and the
-- retry success rate survive the deletion of completed jobs. A first-try success writes
-- nothing here: the hot path stays one statement with no extra row.
create table redrive.failure_stat (
  tenant_id     text not null,
  queue         text not null,
  type          text not null,
  -- The class of the failure; for `recovered`, the class of the last failure before the success.
  error_class   text not null,
  bucket        timestamptz(0) not null,
  failures      integer not null default 0,
  dead_lettered integer not null default 0,
  recovered     integer not null default 0,
  primary key (tenant_id, queue, type, error_class, bucket),
  constraint failure_stat_counts_valid check (failures >= 0 and dead_lettered >= 0 and recovered >= 0)
);

create index failure_stat_bucket_idx on redrive.failure_stat (bucket);
