/**
 * Every error an operation can answer with, as one union for the RPC group and the HTTP API:
 * Redrive's own tagged errors, each given its HTTP status here (so @redrive/jobs stays free of
 * transport code), plus the server's (ApiErrors.ts).
 */
import { HttpApiSchema } from "@effect/platform"
// Deep imports of definition modules only: the console's browser bundle includes this file.
import * as DbError from "@redrive/database/DatabaseError"
import * as Input from "@redrive/database/Input"
import * as Errors from "@redrive/jobs/OperationErrors"
import { Schema } from "effect"
import { ApiKeyNotFound, BadRequest, Forbidden, ServerError, Unauthenticated } from "./ApiErrors.js"

const status = (code: number) => ({ [HttpApiSchema.AnnotationStatus]: code })

export const InvalidInput = Input.InvalidInput.annotations(status(400))
export const InvalidCursor = DbError.InvalidCursor.annotations(status(400))
export const InvalidLimit = DbError.InvalidLimit.annotations(status(400))
export const InvalidBulkReplay = Errors.InvalidBulkReplay.annotations(status(400))
export const DeadLetterNotFound = DbError.DeadLetterNotFound.annotations(status(404))
export const JobNotFound = Errors.JobNotFound.annotations(status(404))
export const ReplayRequestNotFound = Errors.ReplayRequestNotFound.annotations(status(404))
export const ErrorGroupNotFound = Errors.ErrorGroupNotFound.annotations(status(404))
export const AlertChannelNotFound = Errors.AlertChannelNotFound.annotations(status(404))
export const AlertDeliveryNotFound = Errors.AlertDeliveryNotFound.annotations(status(404))
export const JobRunning = Errors.JobRunning.annotations(status(409))
export const JobAlreadyFinished = Errors.JobAlreadyFinished.annotations(status(409))
export const ReplayRequestConflict = Errors.ReplayRequestConflict.annotations(status(409))
export const PayloadTooLarge = Errors.PayloadTooLarge.annotations(status(413))
export const InvalidPayload = Errors.InvalidPayload.annotations(status(422))
export const UnknownJobType = Errors.UnknownJobType.annotations(status(422))

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
