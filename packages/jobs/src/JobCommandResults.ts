/**
 * What job commands answer, and the cancel reason they take: definitions only (the models' JSON
 * form), so a browser bundle of the HTTP API needs nothing of the commands themselves.
 */
import * as JobModel from "@redrive/database/Job"
import { Schema } from "effect"

/** Why a job is cancelled, kept in its history entry. */
export const Reason = Schema.String.pipe(Schema.maxLength(1000))

export const CancelResult = Schema.Struct({
  job: JobModel.Job.json,
  /** true when the job was cancelled before this call: it is returned unchanged (no new history entry). */
  alreadyCancelled: Schema.Boolean
})
export type CancelResult = typeof CancelResult.Type

export const RetryNowResult = Schema.Struct({
  job: JobModel.Job.json,
  /** false when the job was already due: `run_at` is unchanged (the workers are still woken). */
  rescheduled: Schema.Boolean
})
export type RetryNowResult = typeof RetryNowResult.Type
