/**
 * The one authentication step both transports run: the bearer key to a Principal, or
 * Unauthenticated. A database failure while looking the key up is a ServerError (logged), not a 401.
 */
import { Effect, Option } from "effect"
import { ServerError, Unauthenticated } from "../ApiErrors.js"
import { ApiKeys } from "./ApiKeys.js"
import type { PrincipalData } from "./Principal.js"

export const make = Effect.map(ApiKeys, (keys) => (secret: Option.Option<string>): Effect.Effect<PrincipalData, Unauthenticated | ServerError> =>
  Option.match(secret, {
    onNone: () =>
      Effect.fail(new Unauthenticated({ message: "an API key is required: Authorization: Bearer <key>" })),
    onSome: (key) =>
      keys.authenticate(key).pipe(
        Effect.catchTags({
          "Redrive/DatabaseError": (e) => Effect.zipRight(Effect.logError("authentication failed", e), Effect.fail(new ServerError({ message: "authentication is unavailable" }))),
          "Redrive/InvalidRow": (e) => Effect.zipRight(Effect.logError("authentication failed", e), Effect.fail(new ServerError({ message: "authentication is unavailable" })))
        })
      )
  }))
