/**
 * A payment provider to run the example against: a real HTTP server on 127.0.0.1 whose failures
 * are the ones a real provider has. It charges each idempotency key once, and:
 * - a customer named `flaky…` gets a 503 on a key's first call (a transient outage: retried);
 * - a customer named `throttled…` gets a 429 with `Retry-After: 1` on a key's first call (a
 *   rate limit: waits without using an attempt);
 * - an amount over the card limit gets a 402 (card declined: dead-lettered at once), until the
 *   limit is raised (the customer "updates their card") and the dead letter is replayed;
 * - while `down` is set, every call gets a 503.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { createServer } from "node:http"

const ChargeRequest = Schema.Struct({ amountCents: Schema.Int, customer: Schema.String })

export interface FakePaymentsState {
  readonly cardLimitCents: number
  readonly down: boolean
  /** Calls per idempotency key, and the charges made (key → reference). */
  readonly calls: ReadonlyMap<string, number>
  readonly charges: ReadonlyMap<string, string>
}

export class FakePayments extends Context.Tag("billing/FakePayments")<FakePayments, {
  /** The server's base URL, for PAYMENTS_URL. */
  readonly url: string
  readonly state: Ref.Ref<FakePaymentsState>
}>() {}

const router = (state: Ref.Ref<FakePaymentsState>) =>
  HttpRouter.empty.pipe(
    HttpRouter.post(
      "/charges",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const key = request.headers["idempotency-key"] ?? ""
        const body = yield* HttpServerRequest.schemaBodyJson(ChargeRequest)
        const s = yield* Ref.updateAndGet(state, (s) => ({
          ...s,
          calls: new Map(s.calls).set(key, (s.calls.get(key) ?? 0) + 1)
        }))
        const call = s.calls.get(key) ?? 1
        const charged = s.charges.get(key)
        if (charged !== undefined) return yield* HttpServerResponse.json({ reference: charged })
        if (key === "") return yield* HttpServerResponse.json({ error: "idempotency-key required" }, { status: 400 })
        if (s.down || (body.customer.startsWith("flaky") && call === 1)) {
          return yield* HttpServerResponse.json({ error: "service unavailable" }, { status: 503 })
        }
        if (body.customer.startsWith("throttled") && call === 1) {
          return yield* HttpServerResponse.json({ error: "slow down" }, { status: 429, headers: { "retry-after": "1" } })
        }
        if (body.amountCents > s.cardLimitCents) {
          return yield* HttpServerResponse.json({ error: "card_declined" }, { status: 402 })
        }
        const reference = `ch_${s.charges.size + 1}`
        yield* Ref.update(state, (s) => ({ ...s, charges: new Map(s.charges).set(key, reference) }))
        return yield* HttpServerResponse.json({ reference })
      }).pipe(Effect.catchTag("ParseError", () => HttpServerResponse.json({ error: "bad body" }, { status: 400 })))
    )
  )

/** The fake provider on a free port, for as long as the layer lives. */
export const layer = (options: { readonly cardLimitCents?: number } = {}) =>
  Layer.scoped(
    FakePayments,
    Effect.gen(function*() {
      const state = yield* Ref.make<FakePaymentsState>({
        cardLimitCents: options.cardLimitCents ?? 100_000,
        down: false,
        calls: new Map(),
        charges: new Map()
      })
      const server = yield* Layer.build(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      const http = Context.get(server, HttpServer.HttpServer)
      yield* http.serve(router(state)).pipe(Effect.provide(server))
      const address = http.address
      const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : `http://${address.path}`
      return { url, state }
    })
  )
