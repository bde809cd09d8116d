/**
 * The peers harness's handler as an Effect: a no-op, or a throw that must count as a failed
 * attempt (a thrown error becomes the Effect's failure, not a defect). Used by Redrive's adapter
 * and by the Effect floor alike, so both run the same job.
 */
import { Effect } from "effect"

export type Handler = (payload: unknown) => unknown

export const runHandler = (handler: Handler, payload: unknown): Effect.Effect<void, unknown> =>
  Effect.suspend(() => {
    const result = handler(payload)
    return result instanceof Promise ? Effect.asVoid(Effect.promise(() => result)) : Effect.void
  }).pipe(Effect.catchAllDefect(Effect.fail))
