/**
 * A job's trace context: the W3C `traceparent` of the span that enqueued it
 * (`00-<32 hex trace id>-<16 hex span id>-<flags>`), stored in `job.trace_context` so the run
 * span continues the enqueuing request's trace (Worker.ts) in whatever tracer is installed.
 */
import { Context, Effect, Option, Tracer } from "effect"

const pattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The current span's traceparent, or null outside a span. Read from the fiber's context: outside
 * a span, `Effect.currentParentSpan` fails with a NoSuchElementException, whose stack capture cost
 * ~30 µs of every enqueue made without a tracer.
 */
export const current: Effect.Effect<string | null> = Effect.withFiberRuntime((fiber) => {
  const span = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
  return Effect.succeed(Option.isSome(span) ? format(span.value) : null)
})

export const format = (span: Tracer.AnySpan): string | null =>
  pattern.test(`00-${span.traceId}-${span.spanId}-01`)
    ? `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
    : null

const parseNew = (traceparent: string | null): Option.Option<Tracer.ExternalSpan> => {
  if (traceparent === null) return Option.none()
  const m = pattern.exec(traceparent)
  if (m === null) return Option.none()
  return Option.some(Tracer.externalSpan({
    traceId: m[1]!,
    spanId: m[2]!,
    sampled: (Number.parseInt(m[3]!, 16) & 1) === 1
  }))
}

/**
 * A parser remembering its last answer: the jobs of one `Enqueue.many` share one traceparent and
 * are usually claimed together, so a batch parses it once. One per worker.
 */
export const parser = () => {
  let last: string | null = null
  let parent: Option.Option<Tracer.ExternalSpan> = Option.none()
  return (traceparent: string | null): Option.Option<Tracer.ExternalSpan> => {
    if (traceparent !== last) {
      parent = parseNew(traceparent)
      last = traceparent
    }
    return parent
  }
}

/** The parent a run span continues, or none (an unknown or malformed value starts a new trace). */
export const parse = parseNew
