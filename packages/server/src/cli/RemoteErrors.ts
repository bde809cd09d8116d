/**
 * The failures only the remote mode (`--url`) has: the server cannot be reached (or answered
 * something that is not Redrive's RPC), and a command the server does not serve. Neither carries
 * the API key: only the server's URL and a short reason.
 */
import { Schema } from "effect"

/** No answer from the server at `url` (refused, timed out, not a Redrive server): exit 1. */
export class ServerUnreachable extends Schema.TaggedError<ServerUnreachable>()("Redrive/ServerUnreachable", {
  url: Schema.String,
  message: Schema.String
}) {}

/** The command needs the database: the server has no operation for it (exit 2, nothing was sent). */
export class NotServed extends Schema.TaggedError<NotServed>()("Redrive/NotServed", {
  command: Schema.String,
  message: Schema.String
}) {}
