/**
 * `/metrics` in the Prometheus text format through OpenTelemetry's maintained exporter: Effect's
 * metrics (packages/jobs/src/Metrics.ts and the runtime's) are read by @effect/opentelemetry's
 * metric producer into a PrometheusExporter (its own HTTP server not started), serialized by the
 * exporter's PrometheusSerializer on every scrape.
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Context, Effect, Layer } from "effect"

export class PrometheusMetrics extends Context.Tag("@redrive/server/PrometheusMetrics")<PrometheusMetrics, {
  /** The current metrics in the Prometheus text exposition format. */
  readonly scrape: Effect.Effect<string>
}>() {}

export const contentType = "text/plain; version=0.0.4; charset=utf-8"

export const layer = (options: { readonly serviceName?: string } = {}) =>
  Layer.scoped(
    PrometheusMetrics,
    Effect.gen(function*() {
      const exporter = new PrometheusExporter({ preventServerStart: true })
      const producer = yield* OtelMetrics.makeProducer
      yield* OtelMetrics.registerProducer(producer, () => exporter)
      const serializer = new PrometheusSerializer()
      return PrometheusMetrics.of({
        scrape: Effect.promise(() => exporter.collect()).pipe(
          Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
        )
      })
    })
  ).pipe(Layer.provide(OtelResource.layer({ serviceName: options.serviceName ?? "redrive" })))
