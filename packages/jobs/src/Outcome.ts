/**
 * What becomes of an attempt: from the handler's Exit, the job's definition and its retry
 * policy, decide between completing, retrying (with backoff), snoozing, discarding and
 * dead-lettering, and build the history entry the settle statement appends. Pure: the clock
 * reading and the random draw come in as arguments. (A dead letter's fingerprint is computed
 * where it is stored, by `redrive.fingerprint`, the one function every dead-letter path uses.)
 */
import type { ErrorHistory } from "@redrive/database"
import { Cause, Data, Exit, Option } from "effect"
import { type Classification, classifyCause, stackOf } from "./Classify.js"
import type { AnyJobDefinition } from "./JobDefinition.js"
import * as Limits from "./Limits.js"
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

export interface DecideInput {
  readonly job: Attempt
  readonly exit: Exit.Exit<unknown, unknown>
  readonly definition: Pick<AnyJobDefinition, "classify" | "retry">
  readonly workerId: string
  readonly now: number
  readonly durationMs: number
  /** A draw in [0, 1) for the backoff jitter. */
  readonly random: number
  /** Byte caps of the entry's message and stack (default Limits.defaults). */
  readonly limits?: Pick<Limits.Limits, "messageBytes" | "stackBytes">
}

export const decide = (input: DecideInput): Outcome => {
  const { definition, exit, job, now } = input
  const limits = input.limits ?? Limits.defaults
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
  // Both are truncated, never refused: a failing job must always be recorded.
  const failed = (kind: ErrorHistory.AttemptKind, nextRunAt?: Date, final = false): Failed => {
    const stack = classification.defect || final ? stackOf(classification, limits.stackBytes) : undefined
    const message = Limits.truncate(classification.message, limits.messageBytes)
    const entry: ErrorHistory.AttemptEntry = {
      attempt: job.attempt,
      at: new Date(now),
      kind,
      errorClass: classification.errorClass,
      tag: classification.tag,
      message,
      durationMs: Math.max(0, Math.round(input.durationMs)),
      workerId: input.workerId,
      ...(stack !== undefined ? { stack } : {}),
      ...(nextRunAt !== undefined ? { nextRunAt } : {})
    }
    return {
      entry,
      errorClass: classification.errorClass,
      reason: message
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
