/**
 * Storm coalescing. Deliveries carry a coalesce key (`job.dead_lettered:<tenant>:<queue>`,
 * `circuit:<type>`, …). The dispatcher's claim (internal/alertSql.ts `claim`) makes, per channel
 * and key:
 *
 * - the first delivery go out at once, and a digest window of the channel's `digest_window_s`
 *   open (redrive.alert_window);
 * - the deliveries that arrive while it is open wait for its end, and then go out as ONE message:
 *   the oldest is sent, the others turn `coalesced` with `sent_in` = its id (and become delivered
 *   or failed with it);
 * - so a storm of 2,000 dead letters of a queue in a minute is two or three messages, not 2,000.
 *
 * Retries of a message are not merged with newer deliveries: a retried digest carries what it
 * carried. This module turns a claimed row into the digest a message shows.
 */
import type { Digest } from "./Message.js"

export const of = (row: {
  readonly coalesceKey: string | null
  readonly coalesced: number
  readonly samples: ReadonlyArray<unknown> | null
}): Digest | null =>
  row.coalesceKey === null || row.coalesced === 0
    ? null
    : { coalesceKey: row.coalesceKey, count: row.coalesced + 1, samples: row.samples ?? [] }
