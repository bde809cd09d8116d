-- Security review (issue 9): keys that one tenant could take from another.

-- A dead letter is unique per (tenant, job): a row another tenant wrote under a job id it does
-- not own no longer blocks that job's dead-lettering. A job whose dead letter still cannot be
-- written (its own tenant already has a row for it) stays in `job` as 'dead_letter_conflict',
-- kept out of claim and rescue until an operator looks at it.
create unique index job_dlq_tenant_job_id_idx on redrive.job_dlq (tenant_id, job_id);
drop index redrive.job_dlq_job_id_idx;
create index job_dlq_job_id_idx on redrive.job_dlq (job_id);

alter table redrive.job drop constraint job_state_valid;
alter table redrive.job add constraint job_state_valid
  check (state in ('available', 'paused', 'running', 'completed', 'cancelled', 'dead_letter_conflict'));

-- Replay request ids are namespaced per tenant: an id another tenant uses is, for this tenant,
-- an unused id.
alter table redrive.replay_request drop constraint replay_request_pkey;
alter table redrive.replay_request add primary key (tenant_id, id);
create index replay_request_id_idx on redrive.replay_request (id);
