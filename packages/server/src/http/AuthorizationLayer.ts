/** The server's bearer authentication of the HTTP API: one key lookup per request (auth/Authenticate.ts). */
import { Effect, Layer, Option, Redacted } from "effect"
import * as Authenticate from "../auth/Authenticate.js"
import { Authorization } from "./Authorization.js"

export const layer = Layer.effect(
  Authorization,
  Effect.map(Authenticate.make, (authenticate) =>
    Authorization.of({
      // A missing header arrives as an empty token.
      bearer: (token) => authenticate(Option.liftPredicate(Redacted.value(token), (t) => t.length > 0))
    }))
)
