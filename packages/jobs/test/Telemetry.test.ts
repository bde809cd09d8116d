import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Ids } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { ConfigProvider, Effect, Exit, Metric, Option, Schema, Tracer } from "effect"
import * as Enqueue from "../src/Enqueue.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Metrics from "../src/Metrics.js"
import * as MetricsSampler from "../src/MetricsSampler.js"
import * as Telemetry from "../src/Telemetry.js"
import * as Verdict from "../src/Verdict.js"
import { eventually, withWorker } from "./workerFixtures.js"

const Payload = Schema.Struct({ n: Schema.Number })

/** A tracer that records every span it makes (the native tracer's spans), for the length of a test. */
const recordingTracer = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: base.context
  })
  return { tracer, spans }
})

const runSpansOf = (spans: ReadonlyArray<Tracer.Span>, jobId: number) =>
  spans.filter((s) => s.name === "redrive.job.run" && s.attributes.get("redrive.job.id") === String(jobId))

const counter = <Type, In>(metric: Metric.Metric<Type, In, { readonly count: number | bigint }>) =>
  Effect.map(Metric.value(metric), (state) => Number(state.count))

const definition = () => JobDefinition.make({ name: Factory.unique("traced"), queue: Factory.queue(), payload: Payload })

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("Telemetry", (it) => {
  it.effect("a job enqueued inside a span runs in a span of the same trace, with its attributes; metrics by queue and type", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const def = definition()
      const tenant = Factory.tenant()
      const [request, enqueued] = yield* Effect.withSpan(
        Effect.zip(Effect.currentSpan, Enqueue.one(def, { n: 1 }, { tenantId: tenant })),
        "POST /invoices"
      )
      const sql = yield* SqlClient.SqlClient
      const [stored] = yield* sql<{ traceContext: string }>`select trace_context from redrive.job where id = ${enqueued.id}`
      assert.match(stored!.traceContext, new RegExp(`^00-${request.traceId}-[0-9a-f]{16}-01$`))

      const handler = JobDefinition.handle(def, () => Effect.withSpan(Effect.void, "inside the handler"))
      yield* withWorker(
        { handlers: [handler], maintenance: false },
        eventually(Effect.sync(() => runSpansOf(spans, enqueued.id)), (found) => found.length === 1 && found[0]!.status._tag === "Ended")
      ).pipe(Effect.withTracer(tracer))

      const [run] = runSpansOf(spans, enqueued.id)
      assert.strictEqual(run!.traceId, request.traceId)
      const parent = Option.getOrThrow(run!.parent)
      // The parent is the enqueue's span (a child of the request), as stored with the job.
      assert.strictEqual(parent.spanId, stored!.traceContext.slice(36, 52))
      assert.deepStrictEqual(Object.fromEntries(run!.attributes), {
        "redrive.job.id": String(enqueued.id),
        "redrive.job.type": def.name,
        "redrive.job.queue": def.queue,
        "redrive.tenant": tenant,
        "redrive.attempt": 1,
        "redrive.outcome": "Completed"
      })
      // The handler's own spans are children of the run span.
      const inner = spans.find((s) => s.name === "inside the handler")!
      assert.strictEqual(Option.getOrThrow(inner.parent).spanId, run!.spanId)
      assert.strictEqual(inner.traceId, request.traceId)

      assert.strictEqual(yield* counter(Metrics.enqueued(def.queue, def.name)), 1)
      assert.strictEqual(yield* counter(Metrics.byJob(Metrics.jobsCompleted, def.queue, def.name)), 1)
      const runTime = yield* Metric.value(Metric.tagged(Metric.tagged(Metrics.jobRunTime, "queue", def.queue), "type", def.name))
      assert.strictEqual(runTime.count, 1)
      const wait = yield* Metric.value(Metric.tagged(Metric.tagged(Metrics.jobQueueWait, "queue", def.queue), "type", def.name))
      assert.strictEqual(wait.count, 1)
    }))

  it.effect("with no tracer installed the run span records nothing but carries the trace: a follow-up job continues it", () =>
    Effect.gen(function*() {
      const def = definition()
      const followUp = definition()
      const tenant = Factory.tenant()
      const [request, enqueued] = yield* Effect.withSpan(
        Effect.zip(Effect.currentSpan, Enqueue.one(def, { n: 1 }, { tenantId: tenant })),
        "POST /orders"
      )
      const seen: Array<Tracer.Span> = []
      const handler = JobDefinition.handle(def, () =>
        Effect.withSpan(
          Effect.flatMap(Effect.currentSpan, (inner) => {
            seen.push(inner)
            return Enqueue.one(followUp, { n: 2 }, { tenantId: tenant })
          }),
          "inside the handler"
        ))
      const sql = yield* SqlClient.SqlClient
      const stored = yield* withWorker(
        { handlers: [handler], maintenance: false },
        eventually(
          sql<{ traceContext: string }>`select trace_context from redrive.job where type = ${followUp.name}`,
          (rows) => rows.length === 1
        )
      )
      const inner = seen[0]!
      const run = Option.getOrThrow(inner.parent)
      assert.strictEqual(run.traceId, request.traceId, "the run span continues the enqueuing request's trace")
      assert.match(run.spanId, /^[0-9a-f]{16}$/)
      assert.strictEqual(inner.traceId, request.traceId)
      // The follow-up job's stored traceparent is in the same trace (Enqueue's span, under the handler's).
      assert.match(stored[0]!.traceContext, new RegExp(`^00-${request.traceId}-[0-9a-f]{16}-01$`))
      assert.notInclude(stored[0]!.traceContext, run.spanId)
      assert.notStrictEqual(enqueued.id, 0)
    }))

  it.effect("each failing attempt's span carries its class; the dead letter keeps the trace context", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const def = definition()
      const request = yield* Effect.makeSpan("POST /charges")
      const enqueued = yield* Enqueue.one(def, { n: 2 }).pipe(Effect.withParentSpan(request))
      const handler = JobDefinition.handle(def, (_, ctx): Effect.Effect<void, Verdict.Verdict> =>
        ctx.attempt === 1
          ? Effect.fail(Verdict.retryAt(new Date(), "try again"))
          : Effect.fail(Verdict.deadLetterNow("card declined", "validation")))
      const sql = yield* SqlClient.SqlClient
      yield* withWorker(
        { handlers: [handler], maintenance: false },
        eventually(
          sql<{ n: string }>`select count(*) as n from redrive.job_dlq where job_id = ${enqueued.id}`,
          (rows) => rows[0]!.n === "1"
        )
      ).pipe(Effect.withTracer(tracer))

      const runs = runSpansOf(spans, enqueued.id)
      assert.deepStrictEqual(
        runs.map((s) => [
          s.traceId,
          s.attributes.get("redrive.attempt"),
          s.attributes.get("redrive.outcome"),
          s.attributes.get("redrive.error_class")
        ]),
        [
          [request.traceId, 1, "Retried", "unknown"],
          [request.traceId, 2, "DeadLettered", "validation"]
        ]
      )
      for (const s of runs) assert.isTrue(s.status._tag === "Ended" && Exit.isFailure(s.status.exit))
      const [dlq] = yield* sql<{ traceContext: string }>`select trace_context from redrive.job_dlq where job_id = ${enqueued.id}`
      assert.match(dlq!.traceContext, new RegExp(`^00-${request.traceId}-`))

      assert.strictEqual(yield* counter(Metrics.byJob(Metrics.jobsRetried, def.queue, def.name, "unknown")), 1)
      assert.strictEqual(yield* counter(Metrics.byJob(Metrics.jobsFailed, def.queue, def.name, "unknown")), 1)
      assert.strictEqual(yield* counter(Metrics.byJob(Metrics.jobsFailed, def.queue, def.name, "validation")), 1)
      assert.strictEqual(yield* counter(Metrics.byJob(Metrics.jobsDeadLettered, def.queue, def.name, "validation")), 1)
      assert.strictEqual(yield* counter(Metrics.byJob(Metrics.jobsCompleted, def.queue, def.name)), 0)
    }))

  it.effect("a job without a trace context, or with a malformed one, runs in a root span of a new trace", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const def = definition()
      const sql = yield* SqlClient.SqlClient
      const plain = yield* Factory.insertJob({ queue: def.queue, type: Ids.JobType.make(def.name), payload: { n: 3 } })
      const bad = yield* Factory.insertJob({ queue: def.queue, type: Ids.JobType.make(def.name), payload: { n: 4 } })
      yield* sql`update redrive.job set trace_context = '00-nothex-01' where id = ${bad.id}`
      const handler = JobDefinition.handle(def, () => Effect.void)
      yield* withWorker(
        { handlers: [handler], maintenance: false },
        eventually(
          Effect.sync(() => [...runSpansOf(spans, Number(plain.id)), ...runSpansOf(spans, Number(bad.id))]),
          (found) => found.length === 2
        )
      ).pipe(Effect.withTracer(tracer))
      const runs = [...runSpansOf(spans, Number(plain.id)), ...runSpansOf(spans, Number(bad.id))]
      for (const run of runs) assert.isTrue(Option.isNone(run.parent), "a root span")
      assert.notStrictEqual(runs[0]!.traceId, runs[1]!.traceId)
    }))

  it.effect("the sampler sets queue depth, DLQ depth and paused scopes from one query", () =>
    Effect.gen(function*() {
      const queue = Factory.queue()
      const type = Factory.jobType()
      for (let i = 0; i < 3; i++) yield* Factory.insertJob({ queue, type })
      yield* Factory.insertJob({ queue, type, state: "paused" })
      for (let i = 0; i < 2; i++) {
        yield* Factory.insertDeadLetter({ type, errorClass: Ids.ErrorClass.make("external_api"), fingerprint: "fp-s" })
      }
      yield* Factory.insertControl({ tenantId: Factory.tenant(), queue: "*", state: "paused" })
      yield* MetricsSampler.sampleOnce()
      const gauge = (metric: Metric.Metric.Gauge<number>, tags: ReadonlyArray<[string, string]>) =>
        Effect.map(
          Metric.value(tags.reduce((m, [k, v]) => Metric.tagged(m, k, v), metric)),
          (s) => s.value
        )
      assert.strictEqual(yield* gauge(Metrics.queueDepth, [["queue", queue], ["state", "available"]]), 3)
      assert.strictEqual(yield* gauge(Metrics.queueDepth, [["queue", queue], ["state", "paused"]]), 1)
      assert.strictEqual(yield* gauge(Metrics.dlqDepth, [["type", type], ["class", "external_api"]]), 2)
      assert.strictEqual(yield* gauge(Metrics.pausedScopes, [["state", "paused"]]), 1)
    }))

  it.effect("Telemetry.layerConfig keeps the default tracer without OTEL_EXPORTER_OTLP_ENDPOINT and installs the OTLP one with it", () =>
    Effect.gen(function*() {
      const base = yield* Effect.tracer
      const tracerWith = (env: ReadonlyArray<[string, string]>) =>
        Effect.tracer.pipe(
          Effect.provide(Telemetry.layerConfig),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env)))
        )
      assert.strictEqual(yield* tracerWith([]), base)
      // Nothing is sent: no span ends while it is installed.
      assert.notStrictEqual(yield* tracerWith([["OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"]]), base)
    }))
})
