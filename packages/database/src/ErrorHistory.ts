/**
 * The error history of a job: one entry per attempt (and per rescue, snooze, free wait and replay),
 * stored as a jsonb array on `job` and `job_dlq`. The array is capped: the first entry and
 * the newest ones are kept and a single `dropped` entry counts what was elided, so a row
 * cannot grow without bound. The SQL twin of `append` is `redrive.history_append`.
 */
import { Schema } from "effect"

/**
 * `waited`: a failure (a rate limit, by default) that waited for its Retry-After without using
 * an attempt; `snoozed` and `discarded`: a handler's verdicts, filed under their own class.
 */
export const AttemptKind = Schema.Literal("failed", "timeout", "rescued", "snoozed", "waited", "replayed", "discarded")
export type AttemptKind = typeof AttemptKind.Type

export const AttemptEntry = Schema.Struct({
  attempt: Schema.Int.pipe(Schema.nonNegative()),
  at: Schema.Date,
  kind: AttemptKind,
  errorClass: Schema.String,
  tag: Schema.String,
  message: Schema.String,
  stack: Schema.optional(Schema.String),
  durationMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  workerId: Schema.optional(Schema.String),
  nextRunAt: Schema.optional(Schema.Date),
  by: Schema.optional(Schema.String)
})
export type AttemptEntry = typeof AttemptEntry.Type

/** Stands in for the entries removed by the cap, right after the first entry. */
export const DroppedEntries = Schema.Struct({
  kind: Schema.Literal("dropped"),
  count: Schema.Int.pipe(Schema.positive()),
  at: Schema.Date
})
export type DroppedEntries = typeof DroppedEntries.Type

export const ErrorHistoryEntry = Schema.Union(AttemptEntry, DroppedEntries)
export type ErrorHistoryEntry = typeof ErrorHistoryEntry.Type

export const ErrorHistory = Schema.Array(ErrorHistoryEntry)
export type ErrorHistory = typeof ErrorHistory.Type

/** Default cap: first + dropped marker + 48 newest. */
export const defaultCap = 50

/** Appends an entry, keeping the first entry and the newest, and counting what was dropped. */
export const append = (history: ErrorHistory, entry: ErrorHistoryEntry, cap: number = defaultCap): ErrorHistory => {
  if (cap < 3) throw new RangeError(`history cap must be at least 3, got ${cap}`)
  const all = [...history, entry]
  if (all.length <= cap) return all
  const [first, ...rest] = all
  const marker = rest[0]?.kind === "dropped" ? rest[0] : undefined
  const tail = marker ? rest.slice(1) : rest
  const keep = cap - 2
  const dropped = (marker?.count ?? 0) + tail.length - keep
  return [first!, { kind: "dropped", count: dropped, at: entry.at }, ...tail.slice(tail.length - keep)]
}
