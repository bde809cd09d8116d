/**
 * Tenant-scoped work. `withTenant` runs an effect in a transaction as the NOLOGIN role
 * `redrive_tenant` with `redrive.tenant_id` set, so row-level security decides what the
 * effect can see and write. Both settings are transaction-local, and the block puts back
 * exactly what it found: inside an enclosing transaction, the statements after the block run
 * with the role and tenant they had before it.
 *
 * A block for the same tenant inside a tenant block is a no-op; a block for another tenant is
 * refused (`TenantScopeConflict`): one transaction serves one tenant. The reserved ids `default`
 * and `*` are refused (`ReservedTenant`).
 *
 *   Tenant.withTenant(tenantId, effect)   effect.pipe(Tenant.withTenant(tenantId))
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, FiberRef, Option, Schema } from "effect"
import { reservedTenantIds, type TenantId } from "./Ids.js"

export const tenantRole = "redrive_tenant"

/** A tenant block was opened inside another tenant's block. */
export class TenantScopeConflict extends Schema.TaggedError<TenantScopeConflict>()("TenantScopeConflict", {
  /** The tenant of the enclosing block. */
  current: Schema.String,
  /** The tenant the nested block asked for. */
  requested: Schema.String,
  message: Schema.String
}) {}

/** `default` (work enqueued without a tenant) and `*` are nobody's tenant: no block runs as them. */
export class ReservedTenant extends Schema.TaggedError<ReservedTenant>()("ReservedTenant", {
  tenantId: Schema.String,
  message: Schema.String
}) {}

/** The tenant of the enclosing `withTenant` block, if any. */
export const currentTenant: FiberRef.FiberRef<Option.Option<TenantId>> = FiberRef.unsafeMake(Option.none())

const scoped = <A, E, R>(
  tenantId: TenantId,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError | TenantScopeConflict | ReservedTenant, R | SqlClient.SqlClient> =>
  Effect.flatMap(FiberRef.get(currentTenant), (current): Effect.Effect<
    A,
    E | SqlError | TenantScopeConflict | ReservedTenant,
    R | SqlClient.SqlClient
  > => {
    if (reservedTenantIds.has(tenantId)) {
      return Effect.fail(
        new ReservedTenant({ tenantId, message: `${JSON.stringify(tenantId)} is reserved and is no tenant's id` })
      )
    }
    if (Option.isSome(current)) {
      return current.value === tenantId ? effect : Effect.fail(
        new TenantScopeConflict({
          current: current.value,
          requested: tenantId,
          message: `a block for tenant ${JSON.stringify(tenantId)} cannot open inside tenant ` +
            `${JSON.stringify(current.value)}'s block: one transaction serves one tenant`
        })
      )
    }
    return Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql.withTransaction(Effect.gen(function*() {
        // What was there before (inside an enclosing transaction it may be set): restored on success.
        // On failure or interruption the transaction, or its savepoint, is rolled back, and that
        // undoes both settings by itself.
        const [before] = yield* sql<{ readonly role: string; readonly tenant: string | null }>`
          select current_setting('role') as role, current_setting('redrive.tenant_id', true) as tenant,
                 set_config('role', ${tenantRole}, true), set_config('redrive.tenant_id', ${tenantId}, true)`
        const result = yield* Effect.locally(effect, currentTenant, Option.some(tenantId))
        yield* sql`select set_config('role', ${before?.role ?? "none"}, true),
                          set_config('redrive.tenant_id', ${before?.tenant ?? ""}, true)`
        return result
      }))
    )
  })

/** Runs `effect` as `tenantId` under row-level security; data-first or pipeable. */
export function withTenant(tenantId: TenantId): <A, E, R>(
  effect: Effect.Effect<A, E, R>
) => Effect.Effect<A, E | SqlError | TenantScopeConflict | ReservedTenant, R | SqlClient.SqlClient>
export function withTenant<A, E, R>(
  tenantId: TenantId,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError | TenantScopeConflict | ReservedTenant, R | SqlClient.SqlClient>
export function withTenant<A, E, R>(tenantId: TenantId, effect?: Effect.Effect<A, E, R>) {
  return effect === undefined
    ? <A2, E2, R2>(self: Effect.Effect<A2, E2, R2>) => scoped(tenantId, self)
    : scoped(tenantId, effect)
}
