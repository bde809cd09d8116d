/** Reads and writes of `redrive.control`, the pause/drain state of scopes. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect } from "effect"
import { Control, ControlScope } from "./Control.js"
import { fromSqlError } from "./DatabaseError.js"

export type ControlUpsert = typeof Control.insert.Type

export class ControlRepo extends Effect.Service<ControlRepo>()("@redrive/database/ControlRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const findOne = SqlSchema.findOne({
      Request: ControlScope,
      Result: Control,
      execute: (s) => sql`select * from redrive.control where tenant_id = ${s.tenantId} and queue = ${s.queue}`
    })

    const upsertOne = SqlSchema.single({
      Request: Control.insert,
      Result: Control,
      execute: (row) =>
        sql`insert into redrive.control ${sql.insert(row)}
            on conflict (tenant_id, queue) do update set
              state = excluded.state, reason = excluded.reason, initiated_by = excluded.initiated_by,
              initiated_at = excluded.initiated_at, drain_completed_at = excluded.drain_completed_at, updated_at = now()
            returning *`
    })

    const deleteOne = SqlSchema.findOne({
      Request: ControlScope,
      Result: Control,
      execute: (s) => sql`delete from redrive.control where tenant_id = ${s.tenantId} and queue = ${s.queue} returning *`
    })

    return {
      get: (scope: ControlScope) =>
        findOne(scope).pipe(Effect.mapError(fromSqlError("ControlRepo.get")), Effect.withSpan("ControlRepo.get")),
      upsert: (row: ControlUpsert) =>
        upsertOne(row).pipe(Effect.mapError(fromSqlError("ControlRepo.upsert")), Effect.withSpan("ControlRepo.upsert")),
      /** Removes the scope's row (a resume); returns what it was. */
      remove: (scope: ControlScope) =>
        deleteOne(scope).pipe(Effect.mapError(fromSqlError("ControlRepo.remove")), Effect.withSpan("ControlRepo.remove"))
    } as const
  })
}) {}
