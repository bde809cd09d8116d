/**
 * Bearer authentication of the HTTP API: the middleware's definition (the console's bundle shares it;
 * the server's implementation is AuthorizationLayer.ts). It provides the Principal to every `/v1` handler.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Schema } from "effect"
import { ServerError, Unauthenticated } from "../ApiErrors.js"
import { Principal } from "../auth/Principal.js"

export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@redrive/server/http/Authorization", {
  failure: Schema.Union(Unauthenticated, ServerError),
  provides: Principal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
