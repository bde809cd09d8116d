-- Failures of some classes (rate_limit by default) wait for their Retry-After without using an
-- attempt, as BullMQ's RateLimitError and River's snooze do, up to a cap per job type. The count
-- lives on the row, not in error_history: the history is capped and may drop the entries that
-- would be counted. The claim returns it with the row (no extra round trip) and the settle
-- statement increments it; a replay starts a new job, and so a new count.
alter table redrive.job add column free_waits integer not null default 0;
alter table redrive.job add constraint job_free_waits_valid check (free_waits >= 0);

comment on column redrive.job.free_waits is 'Failures that waited without using an attempt (rate limits); capped per job type.';
