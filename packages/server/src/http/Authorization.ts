/** Bearer authentication of the HTTP API: provides the Principal to every `/v1` handler. */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { ServerError, Unauthenticated } from "../ApiErrors.js"
import * as Authenticate from "../auth/Authenticate.js"
import { Principal } from "../auth/Principal.js"

export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@redrive/server/http/Authorization", {
  failure: Schema.Union(Unauthenticated, ServerError),
  provides: Principal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export const layer = Layer.effect(
  Authorization,
  Effect.map(Authenticate.make, (authenticate) =>
    Authorization.of({
      // A missing header arrives as an empty token.
      bearer: (token) => authenticate(Option.liftPredicate(Redacted.value(token), (t) => t.length > 0))
    }))
)
