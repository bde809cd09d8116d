set local role redrive_owner;

-- A job inserted without a run_at is due at once. `now()` stored in the millisecond column is
-- rounded, up to 0.5 ms into the future; a claim that follows at once (an idle worker woken by
-- the job's NOTIFY) then finds it not yet due and leaves it for the next poll. Truncated, it is
-- due at its own insert. The library's statements write run_at the same way (JobSql.ts).
alter table redrive.job alter column run_at set default date_trunc('milliseconds', now());
