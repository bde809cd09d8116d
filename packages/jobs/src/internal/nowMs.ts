/**
 * Now, at the millisecond precision of the timestamp columns and of a JS Date: truncated, one
 * instant per statement. Stored as it is, `now()` is rounded, up to 0.5 ms into the future; as a
 * job's run_at, a claim right after it (an idle worker woken by the job) would find the job not
 * yet due and leave it for the next poll. Migration 0034 gives `job.run_at` the same default.
 */
export const nowMs = "date_trunc('milliseconds', now())"
