/**
 * The one test of "is this scope controlled", shared by every statement that asks it: enqueue
 * and replay (a new job waits as `paused`) and the circuit breaker (which paused jobs it may make
 * available again). The claim, a SQL function (`redrive.claim_batch`, migration 0030), writes the
 * same test out with `blocking` (WorkerClaim.test.ts checks it against every kind of control row).
 */
import type { Statement } from "@effect/sql"
import type { SqlClient } from "@effect/sql/SqlClient"

/** A value (sent as a parameter) or a column reference (`sql.literal("j.tenant_id")`). */
type Operand = Statement.Fragment | string

/**
 * True when a control row covers (tenant, queue, type), directly or through a `*` wildcard.
 * `blocking` leaves out the `probing` row of a half-open circuit: its type is still paused for
 * new jobs, but the probe jobs the breaker made available may run.
 */
export const scopeControlled = (
  sql: SqlClient,
  s: { readonly tenantId: Operand; readonly queue: Operand; readonly type: Operand; readonly blocking: boolean }
) =>
  sql`exists (
        select 1 from redrive.control ctl
        where ctl.tenant_id in (${s.tenantId}, '*') and ctl.queue in (${s.queue}, '*') and ctl.type in (${s.type}, '*')
          ${s.blocking ? sql`and ctl.state <> 'probing'` : sql``}
      )`
