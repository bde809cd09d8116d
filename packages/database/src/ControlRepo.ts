/**
 * Reads and writes of `redrive.control`, the pause/drain state of scopes, and the audit row
 * (`redrive.control_event`) an operator's resume leaves.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Control, ControlScope } from "./Control.js"
import { fromSqlError } from "./DatabaseError.js"

export type ControlUpsert = typeof Control.insert.Type

/** Who lifts a control, and why: written to control_event. */
export const ResumeBy = Schema.Struct({ by: Schema.NonEmptyString, reason: Schema.optional(Schema.String) })
export type ResumeBy = typeof ResumeBy.Type

export class ControlRepo extends Effect.Service<ControlRepo>()("@redrive/database/ControlRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const findOne = SqlSchema.findOne({
      Request: ControlScope,
      Result: Control,
      execute: (s) =>
        sql`select * from redrive.control
            where tenant_id = ${s.tenantId} and queue = ${s.queue} and type = ${s.type ?? "*"}`
    })

    const upsertOne = SqlSchema.single({
      Request: Control.insert,
      Result: Control,
      execute: (row) =>
        sql`insert into redrive.control ${sql.insert(row)}
            on conflict (tenant_id, queue, type) do update set
              state = excluded.state, reason = excluded.reason, initiated_by = excluded.initiated_by,
              initiated_at = excluded.initiated_at, drain_completed_at = excluded.drain_completed_at, updated_at = now()
            returning *`
    })

    const deleteOne = SqlSchema.findOne({
      Request: ControlScope,
      Result: Control,
      execute: (s) =>
        sql`delete from redrive.control where tenant_id = ${s.tenantId} and queue = ${s.queue} and type = ${s.type ?? "*"}
            returning *`
    })

    // The row goes and its audit entry is written in one statement: a resume is never unrecorded.
    const resumeOne = SqlSchema.findOne({
      Request: Schema.Struct({ scope: ControlScope, by: ResumeBy }),
      Result: Control,
      execute: ({ by, scope }) =>
        sql`with removed as (
              delete from redrive.control
              where tenant_id = ${scope.tenantId} and queue = ${scope.queue} and type = ${scope.type ?? "*"}
              returning *
            ), audited as (
              insert into redrive.control_event (tenant_id, queue, type, action, previous_state, reason, actor)
              select tenant_id, queue, type, 'resume', state, ${by.reason ?? null}, ${by.by} from removed
              returning 1
            )
            select * from removed where (select count(*) from audited) >= 0`
    })

    return {
      get: (scope: ControlScope) =>
        findOne(scope).pipe(Effect.mapError(fromSqlError("ControlRepo.get")), Effect.withSpan("ControlRepo.get")),
      upsert: (row: ControlUpsert) =>
        upsertOne(row).pipe(Effect.mapError(fromSqlError("ControlRepo.upsert")), Effect.withSpan("ControlRepo.upsert")),
      /** Removes the scope's row without an audit entry; returns what it was. Operators use `resume`. */
      remove: (scope: ControlScope) =>
        deleteOne(scope).pipe(Effect.mapError(fromSqlError("ControlRepo.remove")), Effect.withSpan("ControlRepo.remove")),
      /**
       * An operator lifts the scope's control (a pause, or an open circuit's type): the row goes
       * and a `resume` entry with who and why is written to control_event. Returns what it was
       * (none: nothing to lift, nothing audited). For a type's open circuit, the breaker sees the
       * row gone on its next pass, closes the circuit with a fresh window and moves the waiting
       * jobs back.
       */
      resume: (scope: ControlScope, by: ResumeBy) =>
        resumeOne({ scope, by }).pipe(Effect.mapError(fromSqlError("ControlRepo.resume")), Effect.withSpan("ControlRepo.resume"))
    } as const
  })
}) {}
