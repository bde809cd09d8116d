/**
 * The exit codes of `redrive`, and which failure gets which: scripts branch on the code, and
 * with `--json` read the error document on stdout.
 *
 *   0  ok
 *   1  failure (database or server unreachable, server error, anything unexpected)
 *   2  usage or bad input: an unknown flag, a missing argument, a value that does not decode
 *      (the error names the field), or a command the server does not serve over --url;
 *      nothing was done
 *   3  not found: no such job, dead letter, replay request, error group or key (for a tenant
 *      key, another tenant's row does not exist)
 *   4  conflict: the target's state refuses the command (a running or finished job, a dead
 *      letter replayed already, a request id used for something else)
 *   5  refused: no key, a revoked key (401), or a tenant key on an admin command (403)
 */
import { ValidationError } from "@effect/cli"
import { ConfigError } from "effect"

export const ok = 0
export const failure = 1
export const usage = 2
export const notFound = 3
export const conflict = 4
export const refused = 5

export type ExitCode = typeof ok | typeof failure | typeof usage | typeof notFound | typeof conflict | typeof refused

const byTag: Readonly<Record<string, ExitCode>> = {
  "Redrive/InvalidInput": usage,
  "Redrive/InvalidCursor": usage,
  "Redrive/InvalidLimit": usage,
  "Redrive/InvalidBulkReplay": usage,
  "Redrive/InvalidPayload": usage,
  "Redrive/PayloadTooLarge": usage,
  "Redrive/UnknownJobType": usage,
  "Redrive/InvalidEntityId": usage,
  "Redrive/WrongEntityKind": usage,
  "Redrive/BadRequest": usage,
  "Redrive/DeadLetterNotFound": notFound,
  "Redrive/JobNotFound": notFound,
  "Redrive/ReplayRequestNotFound": notFound,
  "Redrive/ErrorGroupNotFound": notFound,
  "Redrive/ApiKeyNotFound": notFound,
  "Redrive/NotFound": notFound,
  "Redrive/JobRunning": conflict,
  "Redrive/JobAlreadyFinished": conflict,
  "Redrive/JobNotFinished": conflict,
  "Redrive/DeadLetterAlreadyReplayed": conflict,
  "Redrive/ReplayRequestConflict": conflict,
  "Redrive/RerunKeyConflict": conflict,
  "Redrive/Conflict": conflict,
  "Redrive/Unauthenticated": refused,
  "Redrive/Forbidden": refused
}

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

/** The exit code of a failure: by its tag; @effect/cli's parse errors and bad settings are usage errors. */
export const of = (error: unknown): ExitCode => {
  // A missing or invalid setting (DATABASE_POOL_SIZE, REDRIVE_KEY…) is a usage error too.
  if (ValidationError.isValidationError(error) || ConfigError.isConfigError(error)) return usage
  const tag = tagOf(error)
  return tag === undefined ? failure : byTag[tag] ?? failure
}
