/**
 * The alert events Redrive writes, by the statement that writes each: the dead-letter and settle
 * statements (job.dead_lettered, job.recovered), the evaluator (job.failing, dlq.threshold,
 * replay.finished), the circuit breaker (circuit.*), the control functions of 0018 (control.*)
 * and AlertChannels.sendTest (alert.test). A channel's `events` may name only these.
 */
import { Schema } from "effect"

export const names = [
  "job.dead_lettered",
  "job.failing",
  "job.recovered",
  "dlq.threshold",
  "circuit.opened",
  "circuit.closed",
  "control.paused",
  "control.resumed",
  "control.drain_started",
  "control.drain_completed",
  "replay.finished",
  "alert.test"
] as const

export type AlertEvent = typeof names[number]

const known: ReadonlySet<string> = new Set(names)

export const isKnown = (name: string): name is AlertEvent => known.has(name)

/** An event name as a caller writes one; an unknown name is refused with the list of known ones. */
export const AlertEventName = Schema.String.pipe(
  Schema.filter((s) => isKnown(s) || `unknown event ${JSON.stringify(s)}: known events are ${names.join(", ")}`)
)
