/**
 * Turns a failed attempt's Cause into an error class and the facts a history entry records.
 * Order: the job's own classifier (so a job can override any rule), then the rules in force
 * (`Rules`, by default `rules`): Redrive's tagged errors (the class travels with the type),
 * Effect's failures, then the facts real errors carry — provider codes, throttling, the HTTP
 * status, network codes, SMTP replies, SQLSTATEs, error names — and message heuristics last.
 * Each rule is tried on the error and then on its causes before the next rule. Anything no rule
 * knows is `unknown`, which is retried: an unrecognised error is never treated as a permanent
 * one. Defects are classified the same way. The stack is read only on demand (`stackOf`):
 * formatting a stack costs more than the rest of a failed attempt.
 *
 * The rules are a list, not a switch: extend or reorder it for a worker with
 *   Worker.layer(...).pipe(Layer.provide(Classify.withRules((rules) => [myRule, ...rules])))
 */
import { Cause, Context, Effect, Layer, Option } from "effect"
import * as ClassifyRules from "./ClassifyRules.js"
import { chain, field, parseRetryAfter, text } from "./internal/errorFacts.js"
import type { AnyJobDefinition } from "./JobDefinition.js"
import * as Limits from "./Limits.js"

export { parseRetryAfter }

export interface Classification {
  readonly errorClass: string
  readonly kind: "failed" | "timeout"
  readonly tag: string
  readonly message: string
  /** The failure itself, for `stackOf`. */
  readonly error: unknown
  /** A retry time the error itself asks for (HTTP Retry-After, RateLimitError). */
  readonly retryAfterMillis?: number
  readonly defect: boolean
}

/** What a rule knows of an error: its class, and how long the error asks to wait (Retry-After). */
export interface Facts {
  readonly errorClass: string
  readonly retryAfterMillis?: number
}

/** A named classification rule: the facts of an error it recognises, or none. */
export interface Rule {
  readonly name: string
  /** `now` reads Retry-After dates. Must not throw; a rule that throws is passed over. */
  readonly classify: (error: unknown, now: number) => Option.Option<Facts>
}

export const rule = (name: string, classify: Rule["classify"]): Rule => ({ name, classify })

/** The built-in rules, in the order they are tried (see ClassifyRules.ts for each). */
export const rules: ReadonlyArray<Rule> = ClassifyRules.builtIn

/** The rules a worker classifies with: `rules` unless a layer provides others. */
export class Rules extends Context.Reference<Rules>()("@redrive/jobs/Classify/Rules", {
  defaultValue: (): ReadonlyArray<Rule> => rules
}) {}

/** Provides the rules `f` makes of the rules in force (add a rule first, drop or reorder some). */
export const withRules = (f: (rules: ReadonlyArray<Rule>) => ReadonlyArray<Rule>): Layer.Layer<never> =>
  Layer.effect(Rules, Effect.map(Rules, f))

const tryRule = (r: Rule, error: unknown, now: number): Facts | undefined => {
  try {
    return Option.getOrUndefined(r.classify(error, now))
  } catch {
    // A rule that throws knows nothing of this error.
  }
  return undefined
}

/** The facts of the first rule that recognises the error or one of its causes; undefined when none does. */
export const factsOf = (error: unknown, now: number, list: ReadonlyArray<Rule> = rules): Facts | undefined => {
  const links = chain(error)
  for (const r of list) {
    for (const link of links) {
      const facts = tryRule(r, link, now)
      if (facts !== undefined) return facts
    }
  }
  return undefined
}

const tagOf = (error: unknown): string => {
  const tag = field(error, "_tag")
  if (typeof tag === "string") return tag
  if (error instanceof Error) return error.name
  return typeof error
}

const messageOf = (error: unknown): string => {
  const message = text(error)
  if (message !== undefined) return message
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/** The top of a stack is what identifies a failure: keep 12 lines, at most `maxBytes` UTF-8 bytes. */
const truncateStack = (stack: string, maxBytes: number) => {
  const lines = stack.split("\n", 13)
  const top = lines.length > 12 ? `${lines.slice(0, 12).join("\n")}\n    …` : stack
  return Limits.truncate(top, maxBytes)
}

/** The failure's stack, truncated for storage (undefined when it has none). */
export const stackOf = (classification: Classification, maxBytes: number): string | undefined => {
  const { error } = classification
  const stack = error instanceof Error ? error.stack : field(error, "stack")
  return typeof stack === "string" ? truncateStack(stack, maxBytes) : undefined
}

export const classifyError = (
  error: unknown,
  definition: Pick<AnyJobDefinition, "classify">,
  defect: boolean,
  now: number,
  list: ReadonlyArray<Rule> = rules
): Classification => {
  const tag = tagOf(error)
  const message = messageOf(error)
  // Two literals, not spreads: spreading into a literal was a fifth of classifying in a profile.
  const withClass = (errorClass: string, retryAfterMillis?: number): Classification => {
    const kind = errorClass === "timeout" ? "timeout" : "failed"
    return retryAfterMillis === undefined
      ? { errorClass, kind, tag, message, error, defect }
      : { errorClass, kind, tag, message, error, defect, retryAfterMillis }
  }
  const own = definition.classify(error)
  if (Option.isSome(own)) return withClass(own.value)
  const facts = factsOf(error, now, list)
  return facts === undefined ? withClass("unknown") : withClass(facts.errorClass, facts.retryAfterMillis)
}

/** Classifies a failed attempt's Cause: its first failure, else its first defect. */
export const classifyCause = (
  cause: Cause.Cause<unknown>,
  definition: Pick<AnyJobDefinition, "classify">,
  now: number,
  list: ReadonlyArray<Rule> = rules
): Classification => {
  // Effect wraps an object failed inside a span in a Proxy (it carries the span), and every
  // property a rule read went through its traps: the rules read the error itself.
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return classifyError(Cause.originalError(failure.value), definition, false, now, list)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return classifyError(Cause.originalError(defect.value), definition, true, now, list)
  return classifyError(new Error(Cause.pretty(cause)), definition, true, now, list)
}
