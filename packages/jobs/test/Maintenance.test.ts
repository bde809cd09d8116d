[
  {
    "name": "row-level security under withTenant > a tenant sees only its own rows in every tenant table and view",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > another tenant's rows cannot be read by id, updated or deleted",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > inserting or moving a row into another tenant fails and rolls the transaction back",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > a tenant sees global ('*') pauses that affect it but cannot change them",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > withTenant leaves no role or tenant behind in an enclosing transaction",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > a nested block for the same tenant keeps the outer block's role, tenant and view",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > a nested block for another tenant is refused, and the outer block keeps its view",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > inside a transaction, the block puts back what it found after success, failure and interruption",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > withTenant is pipeable",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "row-level security under withTenant > the reserved ids `default` and `*` are no tenant's: a block for them is refused",
    "file": "/work/main/packages/database/test/Tenant.test.ts"
  },
  {
    "name": "schema constraints > a non-array error_history is refused by the CHECK, on job and job_dlq",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "schema constraints > the repository reports a CHECK violation as a typed DatabaseError naming the constraint",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "schema constraints > bad input is refused before the database with an error naming the field, and nothing is written",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "schema constraints > states, priorities and the reserved '*' tenant are checked",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "schema constraints > timestamps round-trip through a JS Date exactly (millisecond columns)",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "redrive.history_append > keeps the first and the newest entries and counts the dropped ones, like ErrorHistory.append",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "redrive.fingerprint > groups errors that differ only in numbers, uuids and hex strings, and splits the rest",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "redrive.fingerprint > a message is grouped with its form where numbers, uuids and hex strings are placeholders",
    "file": "/work/main/packages/database/test/schema.test.ts"
  },
  {
    "name": "worker capacity > fast jobs claimed with a slow one are settled while it runs, and new jobs start at once",
    "file": "/work/main/packages/jobs/test/WorkerCapacity.test.ts"
  },
  {
    "name": "rescuer > a dead letter made by the rescuer is counted, alerted and fingerprinted like a settled one",
    "file": "/work/main/packages/jobs/test/Rescuer.test.ts"
  },
  {
    "name": "rescuer > a rescued job is back with a `rescued` entry and counted as a timeout failure",
    "file": "/work/main/packages/jobs/test/Rescuer.test.ts"
  },
  {
    "name": "a worker process > on SIGTERM mid-batch exits 0 within its grace, settles what finished and releases the rest",
    "file": "/work/main/packages/jobs/test/WorkerProcess.test.ts"
  },
  {
    "name": "a worker process > on SIGINT mid-batch exits 0 within its grace, settles what finished and releases the rest",
    "file": "/work/main/packages/jobs/test/WorkerProcess.test.ts"
  },
  {
    "name": "a worker process > killed with SIGKILL mid-batch, its jobs are finished by another worker-only process",
    "file": "/work/main/packages/jobs/test/WorkerProcess.test.ts"
  },
  {
    "name": "enqueue > stores the job with the definition's queue, priority and attempts, and the payload verbatim",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > a bad payload is a ParseError naming the field, and nothing is written",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > the reserved tenant ids are refused; a job without a tenant is unscoped (`default`)",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > a duplicate idempotency key returns the first job while it is unfinished",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > an enqueue in a rolled-back transaction leaves no job",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > enqueue into a paused scope keeps the job waiting in state paused",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > a bulk enqueue is one statement and returns ids in input order",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > a payload over REDRIVE_MAX_PAYLOAD_BYTES is refused with the limit named, and nothing is written",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > enqueueing into a running scope wakes the queue's workers once per statement",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > enqueueing into a paused scope wakes nobody",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  },
  {
    "name": "enqueue > an enqueue in a transaction wakes the workers at commit; a rolled-back one never does",
    "file": "/work/main/packages/jobs/test/Enqueue.test.ts"
  }
]