/**
 * The parent span of a lane's handlers: a stand-in forwarding to the run span of the job the lane
 * is running. Giving each handler its run span with `withParentSpan` copies the fiber's whole
 * context per job (measured: about a fifth of a no-op job's cost); a lane provides this stand-in
 * once instead, and the worker points it at each job's span before the handler starts. Spans read
 * their parent's ids when they start, so a handler's spans are children of its job's run span,
 * under any tracer. A fiber a handler forks and leaves running past its job would see a later
 * job's span: such a fiber should take its parent explicitly (`Effect.withParentSpan`).
 */
import type { Context, Exit, Option, Tracer } from "effect"

export class LaneSpan implements Tracer.Span {
  readonly _tag = "Span"
  constructor(public current: Tracer.Span) {}
  get name(): string {
    return this.current.name
  }
  get spanId(): string {
    return this.current.spanId
  }
  get traceId(): string {
    return this.current.traceId
  }
  get parent(): Option.Option<Tracer.AnySpan> {
    return this.current.parent
  }
  get context(): Context.Context<never> {
    return this.current.context
  }
  get status(): Tracer.SpanStatus {
    return this.current.status
  }
  get attributes(): ReadonlyMap<string, unknown> {
    return this.current.attributes
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.current.links
  }
  get sampled(): boolean {
    return this.current.sampled
  }
  get kind(): Tracer.SpanKind {
    return this.current.kind
  }
  /** The run span is ended by the worker, never by a child. */
  end(_endTime: bigint, _exit: Exit.Exit<unknown, unknown>): void {}
  attribute(key: string, value: unknown): void {
    this.current.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.current.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.current.addLinks(links)
  }
}
