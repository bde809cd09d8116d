/**
 * Recovery of the billing service's dead letters through Redrive's server, not its tables: the
 * typed RPC client (`RedriveClient` from @redrive/server) pages the service's dead charges and
 * replays each one. The request id is derived from the dead letter, so running the recovery again
 * (a retried deploy hook, two operators at once) replays nothing twice.
 */
import { RedriveClient } from "@redrive/server"
import { Effect, Layer, type Redacted } from "effect"
import { ChargeInvoice } from "./jobs.js"

export interface Replayed {
  readonly dlqId: number
  readonly jobId: number
}

export class Recovery extends Effect.Service<Recovery>()("billing/Recovery", {
  effect: Effect.gen(function*() {
    const redrive = yield* RedriveClient

    /** Replays every dead charge of `tenantId` the key may see; returns what was replayed. */
    const replayDeadCharges = Effect.fn("Recovery.replayDeadCharges")(function*(tenantId: string) {
      const replayed: Array<Replayed> = []
      let cursor: string | undefined
      do {
        const page = yield* redrive.dlq.list({
          filter: { tenantId, type: ChargeInvoice.name },
          limit: 100,
          ...(cursor !== undefined ? { cursor } : {})
        })
        for (const dead of page.items) {
          const result = yield* redrive.replay.one({ id: dead.id, requestId: `billing-recovery-${dead.id}` })
          replayed.push({ dlqId: dead.id, jobId: result.jobId })
        }
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
      return replayed
    })

    return { replayDeadCharges } as const
  })
}) {}

/** Recovery over a running Redrive server: its base URL and an API key (a tenant's or an admin's). */
export const layer = (server: { readonly url: string; readonly key: string | Redacted.Redacted<string> }) =>
  Recovery.Default.pipe(Layer.provide(RedriveClient.layer(server)))
