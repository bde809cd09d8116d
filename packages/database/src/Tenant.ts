/**
 * Tenant-scoped work. `withTenant` runs an effect in a transaction of its own on the tenant
 * pool (logged in as `redrive_tenant`, see TenantSessions.ts) with the tenant's sealed token
 * set, so row-level security decides what the effect can see and write, and no statement in
 * it can widen that: the session is the tenant role, and a token names one tenant.
 *
 * Every statement of the effect runs in that transaction, whichever client it was written
 * with (@effect/sql routes a fiber's statements to its open transaction). A block for the same
 * tenant inside a tenant block is a no-op; a block for another tenant is refused
 * (`TenantScopeConflict`): one transaction serves one tenant. A block cannot join a transaction
 * already open on the runtime's connection (`TenantInTransaction`): it would run with the
 * runtime's rights. The reserved ids `default` and `*` are refused (`ReservedTenant`), any other
 * id that is no tenant id (empty, over 128 characters) is `InvalidInput` naming `tenantId`.
 *
 * A statement the tenant role may not run fails with an SqlError whose message carries
 * Postgres's reason and SQLSTATE; for a service's own table, see `redrive.grant_tenant_access`.
 *
 *   Tenant.withTenant(tenantId, effect)   effect.pipe(Tenant.withTenant(tenantId))
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { Context, Effect, FiberRef, Option, Schema } from "effect"
import { explainSqlError } from "./DatabaseError.js"
import { reservedTenantIds, TenantId } from "./Ids.js"
import * as Input from "./Input.js"
import { TenantSessions } from "./TenantSessions.js"

/** A tenant block was opened inside another tenant's block. */
export class TenantScopeConflict extends Schema.TaggedError<TenantScopeConflict>()("Redrive/TenantScopeConflict", {
  /** The tenant of the enclosing block. */
  current: Schema.String,
  /** The tenant the nested block asked for. */
  requested: Schema.String,
  message: Schema.String
}) {}

/** A tenant block was opened inside a transaction of the runtime's connection. */
export class TenantInTransaction extends Schema.TaggedError<TenantInTransaction>()("Redrive/TenantInTransaction", {
  requested: Schema.String,
  message: Schema.String
}) {}

/** `default` (work enqueued without a tenant) and `*` are nobody's tenant: no block runs as them. */
export class ReservedTenant extends Schema.TaggedError<ReservedTenant>()("Redrive/ReservedTenant", {
  tenantId: Schema.String,
  message: Schema.String
}) {}

export type TenantError = SqlError | TenantScopeConflict | TenantInTransaction | ReservedTenant | Input.InvalidInput

/** The tenant of the enclosing `withTenant` block, if any. */
export const currentTenant: FiberRef.FiberRef<Option.Option<TenantId>> = FiberRef.unsafeMake(Option.none())

const decodeTenant = Input.decode(TenantId, "tenantId")

const scoped = <A, E, R>(
  input: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | TenantError, R | TenantSessions> =>
  Effect.gen(function*() {
    if (reservedTenantIds.has(input)) {
      return yield* new ReservedTenant({ tenantId: input, message: `${JSON.stringify(input)} is reserved and is no tenant's id` })
    }
    const tenantId = yield* decodeTenant(input)
    const current = yield* FiberRef.get(currentTenant)
    if (Option.isSome(current)) {
      if (current.value === tenantId) return yield* effect
      return yield* new TenantScopeConflict({
        current: current.value,
        requested: tenantId,
        message: `a block for tenant ${JSON.stringify(tenantId)} cannot open inside tenant ` +
          `${JSON.stringify(current.value)}'s block: one transaction serves one tenant`
      })
    }
    if (Option.isSome(yield* Effect.serviceOption(SqlClient.TransactionConnection))) {
      return yield* new TenantInTransaction({
        requested: tenantId,
        message: `a block for tenant ${JSON.stringify(tenantId)} cannot open inside a transaction of the ` +
          `runtime's connection: open it outside the transaction (it is a transaction of its own)`
      })
    }
    const sessions = yield* TenantSessions
    const token = yield* sessions.token(tenantId)
    const sql = yield* sessions.client
    return yield* sql.withTransaction(
      Effect.zipRight(
        sql`select set_config('redrive.tenant_token', ${token}, true)`,
        Effect.locally(effect, currentTenant, Option.some(tenantId))
      )
    ).pipe(Effect.mapError((e) => (e instanceof SqlError ? explainSqlError(e) : e)))
  })

/** Runs `effect` as `tenantId` under row-level security; data-first or pipeable. */
export function withTenant(tenantId: string): <A, E, R>(
  effect: Effect.Effect<A, E, R>
) => Effect.Effect<A, E | TenantError, R | TenantSessions>
export function withTenant<A, E, R>(
  tenantId: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | TenantError, R | TenantSessions>
export function withTenant<A, E, R>(tenantId: string, effect?: Effect.Effect<A, E, R>) {
  return effect === undefined
    ? <A2, E2, R2>(self: Effect.Effect<A2, E2, R2>) => scoped(tenantId, self)
    : scoped(tenantId, effect)
}

/**
 * For the library's own statements that a tenant may cause but must not be able to write
 * itself (dead letters, replay requests, alert deliveries): inside a tenant block, `effect`
 * runs on the runtime's pool, outside the tenant's transaction (so it commits on its own);
 * elsewhere it runs where it is (inside the caller's transaction, if any). `effect` must pin
 * every row it touches to `tenant`, the tenant of the enclosing block (none: every tenant).
 */
export const onRuntime = <A, E, R>(
  effect: (tenant: Option.Option<TenantId>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(FiberRef.get(currentTenant), (tenant) =>
    Option.isNone(tenant)
      ? effect(tenant)
      : Effect.mapInputContext(effect(tenant), (context: Context.Context<R>) =>
        Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<R>))
