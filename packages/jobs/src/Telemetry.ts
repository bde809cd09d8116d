/**
 * Exporting traces over OTLP (HTTP, JSON) with @effect/opentelemetry's OtlpTracer — no
 * OpenTelemetry SDK needed. Optional: without this layer, Redrive's spans (a span per job run,
 * continuing the trace of the request that enqueued the job, plus claim/settle/enqueue spans) go
 * to Effect's default tracer, which exports nothing. Metrics (Metrics.ts) live in Effect's metric
 * registry either way.
 *
 * @effect/opentelemetry is an optional peer dependency: it is loaded when this layer is built, so
 * a service that never exports spans does not need it installed (importing @redrive/jobs must not).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type { ConfigError } from "effect/ConfigError"
import { Config, type Duration, Effect, Layer, Option, Schema } from "effect"

/** OTLP export was asked for, but the optional peer @effect/opentelemetry is not installed. */
export class TelemetryUnavailable extends Schema.TaggedError<TelemetryUnavailable>()("Redrive/TelemetryUnavailable", {
  message: Schema.String
}) {}

const otlp = Effect.tryPromise({
  try: () => Promise.all([import("@effect/opentelemetry/OtlpTracer"), import("@effect/opentelemetry/OtlpSerialization")]),
  catch: () =>
    new TelemetryUnavailable({
      message: "exporting spans over OTLP needs the optional peer dependency @effect/opentelemetry (^0.64.1): install it"
    })
})

export interface TelemetryOptions {
  /** The collector's base URL, e.g. `http://localhost:4318`; spans are posted to `<url>/v1/traces`. */
  readonly endpoint: string
  readonly serviceName?: string
  readonly serviceVersion?: string
  readonly headers?: Record<string, string>
  readonly exportInterval?: Duration.DurationInput
}

/** Spans exported to an OTLP/HTTP collector, in batches, from a background fiber. */
export const layer = (options: TelemetryOptions): Layer.Layer<never, TelemetryUnavailable> =>
  Layer.unwrapEffect(Effect.map(otlp, ([OtlpTracer, OtlpSerialization]) =>
    OtlpTracer.layer({
    url: `${options.endpoint.replace(/\/+$/, "")}/v1/traces`,
    resource: {
      serviceName: options.serviceName ?? "redrive",
      ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {})
    },
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.exportInterval !== undefined ? { exportInterval: options.exportInterval } : {})
    }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))))

/**
 * `layer` from the standard variables when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
 * (`OTEL_SERVICE_NAME`, default `redrive`); otherwise nothing (the default tracer).
 */
export const layerConfig: Layer.Layer<never, ConfigError | TelemetryUnavailable> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const endpoint = yield* Config.option(Config.nonEmptyString("OTEL_EXPORTER_OTLP_ENDPOINT"))
    const serviceName = yield* Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("redrive"))
    return Option.isNone(endpoint) ? Layer.empty : layer({ endpoint: endpoint.value, serviceName })
  })
)
