/**
 * The errors the server adds to Redrive's own for the wire: authentication, authorization, a
 * missing key, refused input that names every problem, and a server-side failure whose detail
 * stays in the server's log. Each carries its HTTP status for the HTTP API and OpenAPI.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** No key, a malformed, unknown or revoked key. */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()(
  "Redrive/Unauthenticated",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** The key may not do this: a tenant key on an admin operation or on another tenant's scope, a read key on an action. */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Redrive/Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

export class ApiKeyNotFound extends Schema.TaggedError<ApiKeyNotFound>()(
  "Redrive/ApiKeyNotFound",
  { id: Schema.Number },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** One problem of refused input: where (a dotted path, `body` or `header.content-type`) and what. */
export const Issue = Schema.Struct({ path: Schema.String, message: Schema.String })
export type Issue = typeof Issue.Type

/** Input refused before anything ran; `issues` lists every problem found, not only the first. */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "Redrive/BadRequest",
  { message: Schema.String, issues: Schema.Array(Issue) },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** The database failed or is unreachable; the detail is logged, not sent. */
export class ServerError extends Schema.TaggedError<ServerError>()(
  "Redrive/ServerError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}
