/**
 * Every error an operation can answer with, as one union for the RPC group and the HTTP API:
 * Redrive's own tagged errors, each given its HTTP status here (so @redrive/jobs stays free of
 * transport code), plus the server's (ApiErrors.ts).
 */
import { HttpApiSchema } from "@effect/platform"
import { DatabaseError as DbError, Input } from "@redrive/database"
import { AlertChannels, ErrorGroups, JobCommands, Limits, Replay } from "@redrive/jobs"
import { Schema } from "effect"
import { ApiKeyNotFound, BadRequest, Forbidden, ServerError, Unauthenticated } from "./ApiErrors.js"

const status = (code: number) => ({ [HttpApiSchema.AnnotationStatus]: code })

export const InvalidInput = Input.InvalidInput.annotations(status(400))
export const InvalidCursor = DbError.InvalidCursor.annotations(status(400))
export const InvalidLimit = DbError.InvalidLimit.annotations(status(400))
export const InvalidBulkReplay = Replay.InvalidBulkReplay.annotations(status(400))
export const DeadLetterNotFound = DbError.DeadLetterNotFound.annotations(status(404))
export const JobNotFound = JobCommands.JobNotFound.annotations(status(404))
export const ReplayRequestNotFound = Replay.ReplayRequestNotFound.annotations(status(404))
export const ErrorGroupNotFound = ErrorGroups.ErrorGroupNotFound.annotations(status(404))
export const AlertChannelNotFound = AlertChannels.AlertChannelNotFound.annotations(status(404))
export const AlertDeliveryNotFound = AlertChannels.AlertDeliveryNotFound.annotations(status(404))
export const JobRunning = JobCommands.JobRunning.annotations(status(409))
export const JobAlreadyFinished = JobCommands.JobAlreadyFinished.annotations(status(409))
export const ReplayRequestConflict = Replay.ReplayRequestConflict.annotations(status(409))
export const PayloadTooLarge = Limits.PayloadTooLarge.annotations(status(413))
export const InvalidPayload = Replay.InvalidPayload.annotations(status(422))
export const UnknownJobType = Replay.UnknownJobType.annotations(status(422))

export const wireErrors = [
  Unauthenticated,
  Forbidden,
  BadRequest,
  ServerError,
  ApiKeyNotFound,
  InvalidInput,
  InvalidCursor,
  InvalidLimit,
  InvalidBulkReplay,
  DeadLetterNotFound,
  JobNotFound,
  ReplayRequestNotFound,
  ErrorGroupNotFound,
  AlertChannelNotFound,
  AlertDeliveryNotFound,
  JobRunning,
  JobAlreadyFinished,
  ReplayRequestConflict,
  PayloadTooLarge,
  InvalidPayload,
  UnknownJobType
] as const

export const WireError = Schema.Union(...wireErrors)
export type WireError = typeof WireError.Type
