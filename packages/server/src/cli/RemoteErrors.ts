/**
 * The failure only the remote mode (`--url`) has: the server cannot be reached (or answered
 * something that is not Redrive's RPC). It never carries the API key: only the server's URL and a
 * short reason.
 */
import { Schema } from "effect"

/** No answer from the server at `url` (refused, timed out, not a Redrive server): exit 1. */
export class ServerUnreachable extends Schema.TaggedError<ServerUnreachable>()("Redrive/ServerUnreachable", {
  url: Schema.String,
  message: Schema.String
}) {}
