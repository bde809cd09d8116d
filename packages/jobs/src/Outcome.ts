/**
 * What becomes of an attempt: from the handler's Exit, the job's definition and its retry
 * policy, decide between completing, retrying (with backoff), waiting without using the attempt
 * (a rate limit, while the job has free waits left), snoozing, discarding and dead-lettering,
 * and build the history entry the settle statement appends. Pure: the clock reading and the
 * random draw come in as arguments. (A dead letter's fingerprint is computed where it is
 * stored, by `redrive.fingerprint`, the one function every dead-letter path uses.)
 */
import type { ErrorHistory } from "@redrive/database"
import { Cause, Data, Exit, Option, type Types } from "effect"
import * as Classify from "./Classify.js"
import * as ErrorClass from "./ErrorClass.js"
import type { AnyJobDefinition } from "./JobDefinition.js"
import * as Limits from "./Limits.js"
import * as RetryPolicy from "./RetryPolicy.js"
import * as Verdict from "./Verdict.js"

export interface Attempt {
  readonly id: number
  readonly type: string
  readonly attempt: number
  readonly maxAttempts: number
  /** Failures so far that waited without using an attempt (`free_waits`). */
  readonly freeWaits: number
}

interface Failed {
  readonly entry: ErrorHistory.AttemptEntry
  readonly errorClass: string
  readonly reason: string
}

export type Outcome = Data.TaggedEnum<{
  Completed: {}
  Retried: Failed & { readonly runAt: Date }
  /** A failure that waits without using its attempt (a rate limit with free waits left). */
  Waited: Failed & { readonly runAt: Date }
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
  /** The classification rules in force (default Classify.rules). */
  readonly rules?: ReadonlyArray<Classify.Rule>
}

export const decide = (input: DecideInput): Outcome => {
  const { definition, exit, job, now } = input
  const limits = input.limits ?? Limits.defaults
  if (Exit.isSuccess(exit)) return Outcome.Completed()
  const cause = exit.cause
  if (Cause.isInterruptedOnly(cause)) return Outcome.Released()

  const failure = Cause.failureOption(cause)
  // The error itself, not the Proxy Effect wraps it in inside a span (see Classify.classifyCause).
  const error = Option.isSome(failure) ? Cause.originalError(failure.value) : undefined
  const verdict = Verdict.isVerdict(error) ? error : undefined
  const classification: Classify.Classification = verdict !== undefined
    ? verdictClassification(verdict)
    : error !== undefined
    ? Classify.classifyError(error, definition, false, now, input.rules)
    : Classify.classifyCause(cause, definition, now, input.rules)

  // Stacks are kept for defects and for the attempt that dead-letters a job; a retried typed
  // failure records its message only (formatting a stack cost more than the rest of the attempt).
  // Both are truncated, never refused: a failing job must always be recorded.
  const failed = (kind: ErrorHistory.AttemptKind, nextRunAt?: Date, final = false): Failed => {
    const stack = classification.defect || final ? Classify.stackOf(classification, limits.stackBytes) : undefined
    const message = Limits.truncate(classification.message, limits.messageBytes)
    const entry: Types.Mutable<ErrorHistory.AttemptEntry> = {
      attempt: job.attempt,
      at: new Date(now),
      kind,
      errorClass: classification.errorClass,
      tag: classification.tag,
      message,
      durationMs: Math.max(0, Math.round(input.durationMs)),
      workerId: input.workerId
    }
    // Set, not spread in: spreads cost more than the rest of the entry.
    if (stack !== undefined) entry.stack = stack
    if (nextRunAt !== undefined) entry.nextRunAt = nextRunAt
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

  const policy = definition.retry
  const errorClass = classification.errorClass
  if (verdict === undefined && job.freeWaits < RetryPolicy.freeWaitsFor(policy, errorClass)) {
    // The backoff steps on with every failure, waited or not: repeated 429s without a
    // Retry-After back off instead of spending the free waits in seconds.
    const runAt = new Date(
      now + (classification.retryAfterMillis ??
        RetryPolicy.delayMillis(policy, errorClass, job.attempt + job.freeWaits, input.random))
    )
    return Outcome.Waited({ ...failed("waited", runAt), runAt })
  }
  const allowed = RetryPolicy.maxAttemptsFor(policy, errorClass, job.maxAttempts)
  if (job.attempt >= allowed) return Outcome.DeadLettered(failed(classification.kind, undefined, true))
  const runAt = verdict?._tag === "Redrive/RetryAt"
    ? verdict.at
    : new Date(
      now + (classification.retryAfterMillis ?? RetryPolicy.delayMillis(policy, errorClass, job.attempt, input.random))
    )
  return Outcome.Retried({ ...failed(classification.kind, runAt), runAt })
}

/** A snooze and a discard keep a class of their own; dead-letter-now files under the class it names. */
const verdictClass = (verdict: Verdict.Verdict): string => {
  switch (verdict._tag) {
    case "Redrive/Snooze":
      return ErrorClass.snoozed
    case "Redrive/Discard":
      return ErrorClass.discarded
    case "Redrive/DeadLetterNow":
      return verdict.errorClass ?? ErrorClass.unknown
    case "Redrive/RetryAt":
      return ErrorClass.unknown
  }
}

const verdictClassification = (verdict: Verdict.Verdict): Classify.Classification => ({
  errorClass: verdictClass(verdict),
  kind: "failed",
  tag: verdict._tag,
  message: verdict.message,
  defect: false,
  // A verdict is a decision, not an error: its stack says nothing.
  error: undefined
})
