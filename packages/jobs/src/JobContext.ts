/** What a handler knows about the attempt it runs in. */
import type { Ids } from "@redrive/database"
import type { Effect } from "effect"

export interface JobContext {
  readonly jobId: Ids.JobId
  readonly tenantId: Ids.TenantId
  readonly queue: Ids.QueueName
  readonly type: Ids.JobType
  /** 1 on the first attempt. */
  readonly attempt: number
  readonly maxAttempts: number
  readonly workerId: string
  /** Extends this job's lease now and records the heartbeat (the worker also extends leases on its own). */
  readonly heartbeat: Effect.Effect<void>
}
