/**
 * What becomes of an attempt: from the handler's Exit, the job's definition and its retry
 * policy, decide between completing, retrying (with backoff), snoozing, discarding and
 * dead-lettering, and build the history entry the settle statement appends. Pure: the clock
 * reading and the random draw come in as arguments.
 */
import type { ErrorHistory } from "@redrive/database"
import { Cause, Data, Exit, Option } from "effect"
import { createHash } from "node:crypto"
import { type Classification, classifyCause, stackOf } from "./Classify.js"
import type { AnyJobDefinition } from "./JobDefinition.js"
import * as RetryPolicy from "./RetryPolicy.js"
import * as Verdict from "./Verdict.js"

export interface Attempt {
  readonly id: number
  readonly type: string
  readonly attempt: number
  readonly maxAttempts: number
}

interface Failed {
  readonly entry: ErrorHistory.AttemptEntry
  readonly errorClass: string
  readonly reason: string
  readonly fingerprint: string
}

export type Outcome = Data.TaggedEnum<{
  Completed: {}
  Retried: Failed & { readonly runAt: Date }
  Snoozed: Failed & { readonly runAt: Date }
  Discarded: Failed
  DeadLettered: Failed
  /** Interrupted (shutdown): back to available, the attempt not used up. */
  Released: {}
}>
export const Outcome = Data.taggedEnum<Outcome>()

const fingerprints = new Map<string, string>()

/** Groups errors that are the same problem: numbers, ids and hex strings do not split groups. */
export const fingerprint = (type: string, errorClass: string, tag: string, message: string): string => {
  // A failure storm repeats one message: remember the last few hundred.
  const key = `${type}\u0000${errorClass}\u0000${tag}\u0000${message}`
  const known = fingerprints.get(key)
  if (known !== undefined) return known
  if (fingerprints.size > 500) fingerprints.clear()
  const value = compute(type, errorClass, tag, message)
  fingerprints.set(key, value)
  return value
}

const compute = (type: string, errorClass: string, tag: string, message: string): string => {
  const normalized = message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<uuid>")
    .replace(/\b0x[0-9a-f]+\b|\b[0-9a-f]{16,}\b/gi, "<hex>")
    .replace(/\d+/g, "<n>")
    .slice(0, 500)
  return createHash("sha256").update(`${type}|${errorClass}|${tag}|${normalized}`).digest("hex").slice(0, 16)
}

export interface DecideInput {
  readonly job: Attempt
  readonly exit: Exit.Exit<unknown, unknown>
  readonly definition: Pick<AnyJobDefinition, "classify" | "retry">
  readonly workerId: string
  readonly now: number
  readonly durationMs: number
  /** A draw in [0, 1) for the backoff jitter. */
  readonly random: number
}

export const decide = (input: DecideInput): Outcome => {
  const { definition, exit, job, now } = input
  if (Exit.isSuccess(exit)) return Outcome.Completed()
  const cause = exit.cause
  if (Cause.isInterruptedOnly(cause)) return Outcome.Released()

  const failure = Cause.failureOption(cause)
  const verdict = Option.isSome(failure) && Verdict.isVerdict(failure.value) ? failure.value : undefined
  const classification: Classification = verdict !== undefined
    ? verdictClassification(verdict)
    : classifyCause(cause, definition, now)

  // Stacks are kept for defects and for the attempt that dead-letters a job; a retried typed
  // failure records its message only (formatting a stack cost more than the rest of the attempt).
  const failed = (kind: ErrorHistory.AttemptKind, nextRunAt?: Date, final = false): Failed => {
    const stack = classification.defect || final ? stackOf(classification) : undefined
    const entry: ErrorHistory.AttemptEntry = {
      attempt: job.attempt,
      at: new Date(now),
      kind,
      errorClass: classification.errorClass,
      tag: classification.tag,
      message: classification.message,
      durationMs: Math.max(0, Math.round(input.durationMs)),
      workerId: input.workerId,
      ...(stack !== undefined ? { stack } : {}),
      ...(nextRunAt !== undefined ? { nextRunAt } : {})
    }
    return {
      entry,
      errorClass: classification.errorClass,
      reason: classification.message,
      fingerprint: fingerprint(job.type, classification.errorClass, classification.tag, classification.message)
    }
  }

  if (verdict?._tag === "Redrive/Snooze") {
    const runAt = new Date(now + verdict.millis)
    return Outcome.Snoozed({ ...failed("snoozed", runAt), runAt })
  }
  if (verdict?._tag === "Redrive/Discard") return Outcome.Discarded(failed("discarded"))
  if (verdict?._tag === "Redrive/DeadLetterNow") return Outcome.DeadLettered(failed("failed", undefined, true))

  const allowed = RetryPolicy.maxAttemptsFor(definition.retry, classification.errorClass, job.maxAttempts)
  if (job.attempt >= allowed) return Outcome.DeadLettered(failed(classification.kind, undefined, true))
  const runAt = verdict?._tag === "Redrive/RetryAt"
    ? verdict.at
    : new Date(
      now + (classification.retryAfterMillis ??
        RetryPolicy.delayMillis(definition.retry, classification.errorClass, job.attempt, input.random))
    )
  return Outcome.Retried({ ...failed(classification.kind, runAt), runAt })
}

const verdictClassification = (verdict: Verdict.Verdict): Classification => ({
  errorClass: verdict._tag === "Redrive/DeadLetterNow" ? verdict.errorClass ?? "unknown" : "unknown",
  kind: "failed",
  tag: verdict._tag,
  message: verdict.message,
  defect: false,
  // A verdict is a decision, not an error: its stack says nothing.
  error: undefined
})
