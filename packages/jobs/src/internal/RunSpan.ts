/**
 * The run span of a job when no tracer is installed. Effect's default tracer records every span
 * in memory (a Map of attributes, 48 random hex characters, an end status) for nobody: nothing
 * exports it. Measured in bench A, that was a fifth of a no-op job's Node CPU. Like OpenTelemetry's
 * non-recording spans, this one keeps what propagation needs — its parent, and ids made on first
 * read, so a handler's child spans and the traceparent of the jobs it enqueues continue the trace —
 * and drops attributes and events. Under any installed tracer (Telemetry.ts, a test tracer) the
 * worker asks that tracer for real spans instead.
 */
import { randomFillSync } from "node:crypto"
import { LibrarySpan } from "@redrive/database"
import { Context, type Exit, Option, type Tracer } from "effect"

/** The tracer Effect provides when none is installed: its spans are never exported. */
export const defaultTracer = LibrarySpan.defaultTracer

// Random ids from a pooled buffer: one system call per 256 span ids instead of one per id.
const pool = Buffer.alloc(4096)
let offset = pool.length
const randomHex = (bytes: number): string => {
  if (offset + bytes > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const hex = pool.toString("hex", offset, offset + bytes)
  offset += bytes
  return hex
}

const noAttributes: ReadonlyMap<string, unknown> = new Map()
const noLinks: ReadonlyArray<Tracer.SpanLink> = []

export class RunSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly name = "redrive.job.run"
  readonly kind = "consumer"
  readonly sampled = true
  readonly context = Context.empty()
  readonly attributes = noAttributes
  readonly links = noLinks
  status: Tracer.SpanStatus
  private id: string | undefined
  private trace: string | undefined

  constructor(readonly parent: Option.Option<Tracer.AnySpan>, startTime: bigint) {
    this.status = { _tag: "Started", startTime }
  }
  get spanId(): string {
    return this.id ??= randomHex(8)
  }
  get traceId(): string {
    return this.trace ??= Option.isSome(this.parent) ? this.parent.value.traceId : randomHex(16)
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(_key: string, _value: unknown): void {}
  event(_name: string, _startTime: bigint, _attributes?: Record<string, unknown>): void {}
  addLinks(_links: ReadonlyArray<Tracer.SpanLink>): void {}
}
