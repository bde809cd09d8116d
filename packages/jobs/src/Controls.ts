/**
 * Operator controls of a scope (a tenant, a queue, or a tenant's queue; `*` or an omitted field
 * means every one): pause, resume, drain, and what is in force. Every call is the SQL function an
 * operator runs in psql (`redrive.pause`, `redrive.resume`, `redrive.drain`, migration 0018), so
 * the library and the runbook share one implementation: the control row, its control_event audit
 * entry (who, why, the previous state) and the `control.*` alert outbox rows commit together.
 *
 * The control row takes effect at once (the claim checks controls, so a paused scope's jobs stop
 * starting when the call returns). The scope's waiting jobs then change state (available →
 * `paused`, out of the claim index, or back, with a wake-up for their queues) in bounded batches,
 * one statement each (`redrive.move_controlled_jobs`, default 10,000 jobs): the call loops them
 * before it returns, and what it leaves (a failure, or another process moving the same scope)
 * the maintenance leader's drain watcher finishes. A drain becomes `drained` when the drain
 * watcher sees nothing of the scope running.
 *
 * `default` (work enqueued without a tenant) is a tenant scope like any other: a single-tenant
 * service pauses its work with it.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Control, ControlEvent, DatabaseError as DbError, Input } from "@redrive/database"
import { Context, Effect, Layer, Schema } from "effect"

type DatabaseError = DbError.DatabaseError
type InvalidRow = DbError.InvalidRow

export interface ControlsOptions {
  /** Most jobs one statement moves (default 10,000). */
  readonly batchSize?: number
}

/** A scope as callers write it: plain strings; an omitted field (or `*`) is every tenant / queue. */
export interface ScopeInput {
  readonly tenantId?: string
  readonly queue?: string
}

export interface PauseInput extends ScopeInput {
  /** Why (audited, and in the alert). */
  readonly reason: string
  /** Who (a user, an API key name). */
  readonly by: string
}

export interface ChangeInput extends ScopeInput {
  readonly by: string
}

/** What a call did: the scope's control row, and the waiting jobs it moved (in `batches` statements). */
export interface ControlChange {
  /** The row in force after a pause or drain; the row lifted by a resume (null: there was none). */
  readonly control: Control.Control | null
  readonly moved: number
  readonly batches: number
}

export interface EventsInput extends ScopeInput {
  /** Events with ids below this one (the previous page's last id). */
  readonly before?: number | string
  /** Page size (default 100, at most 1000). */
  readonly limit?: number
}

const Actor = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0 || "must not be empty"),
  Schema.maxLength(256)
)
const Scope = Schema.Struct({
  tenantId: Schema.optionalWith(Control.ScopeTenant, { default: () => "*" as const }),
  queue: Schema.optionalWith(Control.ScopeQueue, { default: () => "*" as const })
})
const Pause = Schema.Struct({
  ...Scope.fields,
  reason: Schema.String.pipe(
    Schema.filter((s) => s.trim().length > 0 || "must not be empty"),
    Schema.maxLength(2000)
  ),
  by: Actor
})
const Change = Schema.Struct({ ...Scope.fields, by: Actor })
const Events = Schema.Struct({
  ...Scope.fields,
  before: Schema.optional(Schema.Union(Schema.Int, Schema.NumberFromString.pipe(Schema.int())).pipe(
    Schema.compose(Schema.Number.pipe(Schema.positive()))
  )),
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 100 })
})
const decodePause = Input.decode(Pause, "")
const decodeChange = Input.decode(Change, "")
const decodeEvents = Input.decode(Events, "")

const MoveRow = Schema.Struct({ moved: Schema.Int, done: Schema.Boolean })
const decodeMoves = Schema.decodeUnknown(Schema.Array(MoveRow))
const decodeControls = Schema.decodeUnknown(Schema.Array(Control.Control))
const decodeEventRows = Schema.decodeUnknown(Schema.Array(ControlEvent.ControlEvent))

/**
 * The functions refuse bad input with SQLSTATE 22023 and `field=<name>` in the detail (a psql
 * caller reads the message); here that is an InvalidInput naming the field, like the Schemas'.
 */
const fromSql = (operation: string) => (error: SqlError): InvalidInput | DatabaseError | InvalidRow => {
  const cause: unknown = error.cause
  if (typeof cause === "object" && cause !== null && "code" in cause && cause.code === "22023") {
    const detail = "detail" in cause && typeof cause.detail === "string" ? cause.detail : ""
    const message = "message" in cause && typeof cause.message === "string" ? cause.message : error.message
    if (detail.startsWith("field=")) return new Input.InvalidInput({ field: detail.slice(6), message })
  }
  return DbError.fromSqlError(operation)(error)
}
type InvalidInput = Input.InvalidInput

export class Controls extends Context.Tag("@redrive/jobs/Controls")<Controls, {
  /** Pauses the scope: nothing of it starts once this returns; enqueue into it still works (waits `paused`). */
  readonly pause: (input: PauseInput) => Effect.Effect<ControlChange, InvalidInput | DatabaseError | InvalidRow>
  /** Lifts the scope's pause or drain; its waiting jobs run again (those no other control holds). */
  readonly resume: (input: ChangeInput) => Effect.Effect<ControlChange, InvalidInput | DatabaseError | InvalidRow>
  /** Stops new starts in the scope; it becomes `drained` once nothing of it runs (the drain watcher). */
  readonly drain: (input: ChangeInput) => Effect.Effect<ControlChange, InvalidInput | DatabaseError | InvalidRow>
  /** Every control row in force (operators' and the circuit breaker's), by scope. */
  readonly list: Effect.Effect<ReadonlyArray<Control.Control>, DatabaseError | InvalidRow>
  /** The audit trail, newest first; a scope narrows it to events of exactly that scope. */
  readonly events: (
    input?: EventsInput
  ) => Effect.Effect<ReadonlyArray<ControlEvent.ControlEvent>, InvalidInput | DatabaseError | InvalidRow>
  /**
   * Moves the waiting jobs of the scope's pending move (any scope's, with none given) in bounded
   * batches until done; what the drain watcher calls each pass.
   */
  readonly moveWaiting: (
    scope?: { readonly tenantId: string; readonly queue: string }
  ) => Effect.Effect<{ readonly moved: number; readonly batches: number }, DatabaseError | InvalidRow>
}>() {}

export const make = (options: ControlsOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const batchSize = options.batchSize ?? 10_000
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      return yield* Effect.dieMessage("Controls: batchSize must be a positive integer")
    }

    // One statement per batch, each its own transaction: no lock outlives a batch.
    const moveWaiting = (scope?: { readonly tenantId: string; readonly queue: string }) =>
      Effect.gen(function*() {
        let moved = 0
        let batches = 0
        for (;;) {
          const rows = yield* sql`select moved, done from redrive.move_controlled_jobs(
              ${scope?.tenantId ?? null}::text, ${scope?.queue ?? null}::text, ${batchSize}::int)`.pipe(
            Effect.flatMap(decodeMoves)
          )
          const batch = rows[0]
          // No row: nothing pending (or another process holds the move and finishes it).
          if (batch === undefined) break
          batches += 1
          moved += batch.moved
          if (batch.done && scope !== undefined) break
          // A pass over every scope stops after a bound; the next pass goes on.
          if (scope === undefined && batches >= 1000) break
        }
        return { moved, batches }
      }).pipe(Effect.mapError(DbError.fromSqlError("Controls.moveWaiting")), Effect.withSpan("Controls.moveWaiting"))

    const change = (operation: string, statement: Effect.Effect<ReadonlyArray<object>, SqlError>) =>
      Effect.gen(function*() {
        const [row] = yield* statement.pipe(Effect.mapError(fromSql(operation)))
        const control = row === undefined || !("tenantId" in row) || row.tenantId === null
          ? null
          : (yield* decodeControls([row]).pipe(Effect.mapError(DbError.fromSqlError(operation))))[0] ?? null
        return control
      })

    const apply = (
      operation: string,
      scope: { readonly tenantId: string; readonly queue: string },
      statement: Effect.Effect<ReadonlyArray<object>, SqlError>
    ) =>
      Effect.gen(function*() {
        yield* Effect.annotateCurrentSpan({ tenantId: scope.tenantId, queue: scope.queue })
        const control = yield* change(operation, statement)
        const { batches, moved } = yield* moveWaiting(scope)
        return { control, moved, batches } satisfies ControlChange
      })

    const pause = Effect.fn("Controls.pause")(function*(input: PauseInput) {
      const v = yield* decodePause(input)
      return yield* apply(
        "Controls.pause",
        v,
        sql`select * from redrive.pause(${v.tenantId}, ${v.queue}, ${v.reason}, ${v.by})`
      )
    })

    const resume = Effect.fn("Controls.resume")(function*(input: ChangeInput) {
      const v = yield* decodeChange(input)
      return yield* apply("Controls.resume", v, sql`select * from redrive.resume(${v.tenantId}, ${v.queue}, ${v.by})`)
    })

    const drain = Effect.fn("Controls.drain")(function*(input: ChangeInput) {
      const v = yield* decodeChange(input)
      return yield* apply("Controls.drain", v, sql`select * from redrive.drain(${v.tenantId}, ${v.queue}, ${v.by})`)
    })

    const list = sql`select * from redrive.control order by tenant_id, queue, type`.pipe(
      Effect.flatMap(decodeControls),
      Effect.mapError(DbError.fromSqlError("Controls.list")),
      Effect.withSpan("Controls.list")
    )

    const events = Effect.fn("Controls.events")(function*(input: EventsInput = {}) {
      const v = yield* decodeEvents(input)
      const scoped = input.tenantId !== undefined || input.queue !== undefined
      return yield* sql`
        select * from redrive.control_event
        where ${
        sql.and([
          ...(scoped ? [sql`tenant_id = ${v.tenantId}`, sql`queue = ${v.queue}`] : []),
          ...(v.before !== undefined ? [sql`id < ${v.before}`] : [])
        ])
      }
        order by id desc
        limit ${v.limit}`.pipe(Effect.flatMap(decodeEventRows), Effect.mapError(DbError.fromSqlError("Controls.events")))
    })

    return Controls.of({ pause, resume, drain, list, events, moveWaiting })
  })

export const layer = (options: ControlsOptions = {}) => Layer.effect(Controls, make(options))

