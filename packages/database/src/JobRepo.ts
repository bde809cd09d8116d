/** Reads and writes of `redrive.job` that are not part of the worker's claim/settle statements. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { fromSqlError } from "./DatabaseError.js"
import { ErrorHistory } from "./ErrorHistory.js"
import { JobId } from "./Ids.js"
import { Job } from "./Job.js"

export type JobInsert = typeof Job.insert.Type

const encodeHistory = Schema.encode(ErrorHistory)
const validateBatch = Schema.validate(Schema.Array(Job.insert))

export class JobRepo extends Effect.Service<JobRepo>()("@redrive/database/JobRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertOne = SqlSchema.single({
      Request: Job.insert,
      Result: Job,
      execute: (row) => sql`insert into redrive.job ${sql.insert(row)} returning *`
    })

    const findById = SqlSchema.findOne({
      Request: JobId,
      Result: Job,
      execute: (id) => sql`select * from redrive.job where id = ${id}`
    })

    const insertRows = SqlSchema.findAll({
      Request: Schema.String,
      Result: Schema.Struct({ id: JobId }),
      // One statement for the whole batch: the rows travel as one jsonb parameter.
      execute: (rows) =>
        sql`insert into redrive.job (tenant_id, queue, type, payload, priority, state, attempt, max_attempts,
              run_at, locked_by, locked_until, heartbeat_at, error_history, idempotency_key, replay_of,
              request_id, user_id, completed_at)
            select r->>'tenant_id', r->>'queue', r->>'type', r->'payload', (r->>'priority')::smallint, r->>'state',
              (r->>'attempt')::int, (r->>'max_attempts')::int, (r->>'run_at')::timestamptz, r->>'locked_by',
              (r->>'locked_until')::timestamptz, (r->>'heartbeat_at')::timestamptz, r->'error_history',
              r->>'idempotency_key', (r->>'replay_of')::bigint, r->>'request_id', r->>'user_id',
              (r->>'completed_at')::timestamptz
            from jsonb_array_elements(${rows}::jsonb) with ordinality as e(r, ord)
            order by ord
            returning id`
    })

    const insertMany = Effect.fn("JobRepo.insertMany")(function*(jobs: ReadonlyArray<JobInsert>) {
      if (jobs.length === 0) return []
      yield* validateBatch(jobs)
      const rows = yield* Effect.forEach(jobs, (job) =>
        Effect.map(encodeHistory(job.errorHistory), (history) => ({
          tenant_id: job.tenantId,
          queue: job.queue,
          type: job.type,
          payload: job.payload,
          priority: job.priority,
          state: job.state,
          attempt: job.attempt,
          max_attempts: job.maxAttempts,
          run_at: job.runAt.toISOString(),
          locked_by: job.lockedBy,
          locked_until: job.lockedUntil?.toISOString() ?? null,
          heartbeat_at: job.heartbeatAt?.toISOString() ?? null,
          error_history: history,
          idempotency_key: job.idempotencyKey,
          replay_of: job.replayOf,
          request_id: job.requestId,
          user_id: job.userId,
          completed_at: job.completedAt?.toISOString() ?? null
        })))
      const inserted = yield* insertRows(JSON.stringify(rows))
      // Identity values are drawn in the order of the select, so ids follow the input order.
      return inserted.map((r) => r.id).sort((a, b) => a - b)
    }, (effect) => Effect.mapError(effect, fromSqlError("JobRepo.insertMany")))

    return {
      insert: (job: JobInsert) =>
        insertOne(job).pipe(Effect.mapError(fromSqlError("JobRepo.insert")), Effect.withSpan("JobRepo.insert")),
      insertMany,
      findById: (id: JobId) =>
        findById(id).pipe(Effect.mapError(fromSqlError("JobRepo.findById")), Effect.withSpan("JobRepo.findById"))
    } as const
  })
}) {}
