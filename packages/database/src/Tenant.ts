/**
 * Tenant-scoped work. `withTenant` runs an effect in a transaction as the NOLOGIN role
 * `redrive_tenant` with `redrive.tenant_id` set, so row-level security decides what the
 * effect can see and write. Both settings are transaction-local.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { TenantId } from "./Ids.js"

export const tenantRole = "redrive_tenant"

export const withTenant = <A, E, R>(
  tenantId: TenantId,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(
      sql`select set_config('role', ${tenantRole}, true), set_config('redrive.tenant_id', ${tenantId}, true)`.pipe(
        Effect.zipRight(effect),
        // Inside an outer transaction the settings would outlive this block: put them back.
        Effect.tap(() => sql`select set_config('role', 'none', true), set_config('redrive.tenant_id', '', true)`)
      )
    )
  )
