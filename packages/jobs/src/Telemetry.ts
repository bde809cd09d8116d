/**
 * Exporting traces over OTLP (HTTP, JSON) with @effect/opentelemetry's OtlpTracer — no
 * OpenTelemetry SDK needed. Optional: without this layer, Redrive's spans (a span per job run,
 * continuing the trace of the request that enqueued the job, plus claim/settle/enqueue spans) go
 * to Effect's default tracer, which exports nothing. Metrics (Metrics.ts) live in Effect's metric
 * registry either way.
 */
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Config, Duration, Effect, Layer, Option } from "effect"

export interface TelemetryOptions {
  /** The collector's base URL, e.g. `http://localhost:4318`; spans are posted to `<url>/v1/traces`. */
  readonly endpoint: string
  readonly serviceName?: string
  readonly serviceVersion?: string
  readonly headers?: Record<string, string>
  readonly exportInterval?: Duration.DurationInput
}

/** Spans exported to an OTLP/HTTP collector, in batches, from a background fiber. */
export const layer = (options: TelemetryOptions): Layer.Layer<never> =>
  OtlpTracer.layer({
    url: `${options.endpoint.replace(/\/+$/, "")}/v1/traces`,
    resource: {
      serviceName: options.serviceName ?? "redrive",
      ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {})
    },
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.exportInterval !== undefined ? { exportInterval: options.exportInterval } : {})
  }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))

/**
 * `layer` from the standard variables when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
 * (`OTEL_SERVICE_NAME`, default `redrive`); otherwise nothing (the default tracer).
 */
export const layerConfig: Layer.Layer<never, import("effect/ConfigError").ConfigError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const endpoint = yield* Config.option(Config.nonEmptyString("OTEL_EXPORTER_OTLP_ENDPOINT"))
    const serviceName = yield* Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("redrive"))
    return Option.isNone(endpoint) ? Layer.empty : layer({ endpoint: endpoint.value, serviceName })
  })
)
