/**
 * A job type, defined once: its name, payload Schema, queue, default priority, retry policy,
 * classifier and timeout. A definition is data; `handle` pairs it with the code that runs it.
 *
 *   const SendEmail = JobDefinition.make({ name: "email.send", payload: Schema.Struct({ to: Schema.String }) })
 *   const SendEmailHandler = JobDefinition.handle(SendEmail, (payload, ctx) => mailer.send(payload.to))
 */
import { Ids } from "@redrive/database"
import { Duration, Effect, Option, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import * as Circuit from "./Circuit.js"
import type { JobContext } from "./JobContext.js"
import { PayloadDecodeError } from "./JobErrors.js"
import * as RetryPolicy from "./RetryPolicy.js"

export interface JobDefinition<A = unknown, I = unknown> {
  readonly name: Ids.JobType
  readonly payload: Schema.Schema<A, I>
  readonly queue: Ids.QueueName
  readonly priority: Ids.Priority
  readonly retry: RetryPolicy.RetryPolicy
  /** Runs before the built-in rules: return an error class to file the failure under. */
  readonly classify: (error: unknown) => Option.Option<string>
  /** The most one attempt may take; then it fails with a `timeout`. */
  readonly timeout: Duration.Duration
  /** The type's circuit breaker (Circuit.ts), or undefined when it has none. */
  readonly circuitBreaker: Circuit.Settings | undefined
  /** Checks an untrusted payload (a replay's edit) and returns it in its stored (encoded) form. */
  readonly normalizePayload: (payload: unknown) => Effect.Effect<unknown, ParseError>
  /** Checks payloads and encodes them for storage (compiled once per definition: enqueue's hot path). */
  readonly encodePayloads: (payloads: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<I>, ParseError>
}

export interface DefinitionOptions<A, I> {
  readonly name: string
  readonly payload: Schema.Schema<A, I>
  readonly queue?: string
  readonly priority?: number
  readonly retry?: RetryPolicy.RetryPolicy | RetryPolicy.RetryPolicyOptions
  readonly classify?: (error: unknown) => string | undefined
  readonly timeout?: Duration.DurationInput
  /**
   * Opt in to a circuit breaker for this type: `true` for the defaults (Circuit.defaults), or
   * the settings to change. When the dependency fails (external_api, timeout) for at least half
   * of at least 20 attempts in 60 s, the type is paused until probes succeed.
   */
  readonly circuitBreaker?: true | Circuit.Options
}

const isPolicy = (u: RetryPolicy.RetryPolicy | RetryPolicy.RetryPolicyOptions): u is RetryPolicy.RetryPolicy =>
  "byClass" in u && "backoff" in u && typeof u.backoff === "object" && u.backoff !== null && "base" in u.backoff &&
  Duration.isDuration(u.backoff.base)

/** Throws on an invalid name, queue or priority: definitions are module-level constants. */
export const make = <A, I>(options: DefinitionOptions<A, I>): JobDefinition<A, I> => {
  const classify = options.classify
  const decode = Schema.decodeUnknown(options.payload)
  const encode = Schema.encode(options.payload)
  return {
    name: Schema.decodeSync(Ids.JobType)(options.name),
    payload: options.payload,
    queue: Schema.decodeSync(Ids.QueueName)(options.queue ?? "default"),
    priority: Schema.decodeSync(Ids.Priority)(options.priority ?? 5),
    retry: options.retry === undefined
      ? RetryPolicy.defaultPolicy
      : isPolicy(options.retry)
      ? options.retry
      : RetryPolicy.make(options.retry),
    classify: classify ? (error) => Option.fromNullable(classify(error)) : () => Option.none(),
    timeout: Duration.decode(options.timeout ?? "5 minutes"),
    circuitBreaker: options.circuitBreaker === undefined ? undefined : Circuit.settings(options.circuitBreaker),
    normalizePayload: (payload) => Effect.flatMap(decode(payload), encode),
    encodePayloads: Schema.encode(Schema.Array(options.payload))
  }
}

/** A definition with its payload type erased, as the worker, replay and the registry hold it. */
export type AnyJobDefinition = Omit<JobDefinition, "payload" | "encodePayloads">

/** A stored payload no longer decodes with the job's Schema (the Schema changed): never retried. */
export { PayloadDecodeError }

/** A definition with the code that runs it. `R` is what the handler needs; the worker layer requires it. */
export interface JobHandler<R = never> {
  readonly definition: AnyJobDefinition
  /** Decodes the stored payload, then runs the handler. */
  readonly run: (payload: unknown, ctx: JobContext) => Effect.Effect<void, unknown, R>
}

export const handle = <A, I, E, R>(
  definition: JobDefinition<A, I>,
  run: (payload: A, ctx: JobContext) => Effect.Effect<void, E, R>
): JobHandler<R> => {
  const decode = Schema.decodeUnknown(definition.payload)
  const decodeFailed = (e: ParseError) => Effect.fail(new PayloadDecodeError({ message: e.message }))
  return {
    definition,
    // One step around the decode, not two (mapError, then flatMap): this runs for every job.
    run: (payload, ctx) =>
      Effect.matchEffect(decode(payload), {
        onFailure: decodeFailed,
        onSuccess: (decoded) => run(decoded, ctx)
      })
  }
}

/** The requirements of a list of handlers. */
export type HandlersContext<H extends ReadonlyArray<JobHandler<unknown>>> = H[number] extends JobHandler<infer R> ? R
  : never
