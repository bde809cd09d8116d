/**
 * Spans for the library's own hot operations (enqueue, claim, settle, a prepared statement).
 * Under an installed tracer (Telemetry.ts, a test tracer) they are ordinary spans, without a
 * call-site stack: the call site is always the library itself. With no tracer installed, Effect's
 * default tracer would record them in memory for nobody, so they are left out: on an idle worker
 * woken by one job, each span cost about 0.05 ms of a latency of 3 ms.
 */
import { Effect, type Tracer } from "effect"

/** The tracer Effect provides when none is installed: its spans are never exported. */
export const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

export const withSpan = (name: string, options?: Omit<Tracer.SpanOptions, "captureStackTrace">) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) =>
    fiber.currentTracer === defaultTracer ? self : Effect.withSpan(self, name, { ...options, captureStackTrace: false })
  )
