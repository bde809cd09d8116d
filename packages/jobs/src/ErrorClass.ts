/**
 * The built-in error classes a failure is classified into. Classes are extensible, so every
 * lowercase name is a valid class (the database checks only its spelling).
 */
import { ErrorClass as ErrorClassId } from "@redrive/database/Ids"

export type ErrorClass = ErrorClassId

export const timeout = ErrorClassId.make("timeout")
export const validation = ErrorClassId.make("validation")
export const externalApi = ErrorClassId.make("external_api")
export const quotaExceeded = ErrorClassId.make("quota_exceeded")
export const rateLimit = ErrorClassId.make("rate_limit")
export const unknown = ErrorClassId.make("unknown")

export const builtIn: ReadonlyArray<ErrorClass> = [timeout, validation, externalApi, quotaExceeded, rateLimit, unknown]

/**
 * The classes of verdicts' history entries: a snooze or a discard is the handler's decision,
 * not a failure, so it is filed under its own class and never counted in failure_stat.
 */
export const snoozed = ErrorClassId.make("snoozed")
export const discarded = ErrorClassId.make("discarded")
