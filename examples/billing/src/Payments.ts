/**
 * The payment provider's HTTP API, through @effect/platform's HttpClient. Its failures are left
 * as they are (a ResponseError carrying the status, a RequestError for a refused connection):
 * Redrive's classification reads them, so a 503 is retried, a 429 waits for its Retry-After
 * without using an attempt, and a 402 (card declined) is dead-lettered at once.
 */
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Config, Effect, Schema } from "effect"

export const Charge = Schema.Struct({ reference: Schema.String })

export class Payments extends Effect.Service<Payments>()("billing/Payments", {
  effect: Effect.gen(function*() {
    const baseUrl = yield* Config.string("PAYMENTS_URL")
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest(HttpClientRequest.prependUrl(baseUrl)),
      HttpClient.filterStatusOk
    )
    return {
      /** Charges an invoice once: the provider deduplicates by `idempotencyKey`. */
      charge: (input: { readonly idempotencyKey: string; readonly amountCents: number; readonly customer: string }) =>
        HttpClientRequest.post("/charges").pipe(
          HttpClientRequest.setHeader("idempotency-key", input.idempotencyKey),
          HttpClientRequest.bodyJson({ amountCents: input.amountCents, customer: input.customer }),
          Effect.flatMap(client.execute),
          Effect.flatMap(HttpClientResponse.schemaBodyJson(Charge)),
          Effect.scoped,
          Effect.withSpan("Payments.charge")
        )
    } as const
  })
}) {}
