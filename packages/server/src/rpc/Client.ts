/**
 * The typed client of Redrive's server for other Effect services:
 *
 *   const client = yield* RedriveClient
 *   const page = yield* client.dlq.list({ filter: { queue: "invoices" }, limit: 50 })
 *   yield* client.replay.one({ id: page.items[0].id, requestId: "replay-42" })
 *
 *   program.pipe(Effect.provide(RedriveClient.layer({ url: "http://127.0.0.1:8080", key })))
 *
 * Every method is an RPC of `RedriveRpcs`; failures are the server's typed errors
 * (`Redrive/DeadLetterNotFound`, `Redrive/Forbidden`, …) or an `RpcClientError` (transport).
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { RpcClient, type RpcClientError, type RpcGroup, RpcSerialization } from "@effect/rpc"
import { Context, Layer, Redacted } from "effect"
import { RedriveRpcs } from "./RedriveRpcs.js"

export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080` (the RPC endpoint is `<url>/rpc`). */
  readonly url: string
  /** The API key (`rdk_…`), sent as `Authorization: Bearer`. */
  readonly key: string | Redacted.Redacted<string>
}

export class RedriveClient extends Context.Tag("@redrive/server/RedriveClient")<
  RedriveClient,
  RpcClient.RpcClient<RpcGroup.Rpcs<typeof RedriveRpcs>, RpcClientError.RpcClientError>
>() {
  /** Over the given HttpClient (e.g. NodeHttpClient.layerUndici); `layer` brings fetch's. */
  static readonly layerWithoutHttpClient = (options: ClientOptions) => {
    const key = typeof options.key === "string" ? Redacted.make(options.key) : options.key
    return Layer.scoped(RedriveClient, RpcClient.make(RedriveRpcs)).pipe(
      Layer.provide(RpcClient.layerProtocolHttp({
        url: `${options.url.replace(/\/+$/, "")}/rpc`,
        transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(Redacted.value(key)))
      })),
      Layer.provide(RpcSerialization.layerJson)
    )
  }

  static readonly layer = (options: ClientOptions) =>
    RedriveClient.layerWithoutHttpClient(options).pipe(Layer.provide(FetchHttpClient.layer))
}
