/**
 * The claim loop's wake-ups: `work` (new jobs were notified, a retry fell due, shutdown) and
 * `room` (a settle freed places). Each is a flag raised synchronously from anywhere (a NOTIFY
 * callback, the completer) and awaited by the one claim-loop fiber with a timeout. The completer's
 * flusher waits on one for outcomes to settle.
 *
 * Before, these were two dropping queues awaited with `Effect.timeout` (and a race for both):
 * each wait forked fibers and a timer, which an idle worker woken by one job paid cold, on the
 * path between the NOTIFY and the claim. Here a wait is one `Effect.async` and one timer.
 */
import { Effect } from "effect"

export const work = 1
export const room = 2

export interface WakeUps {
  /** Raises `work` and/or `room`; wakes the waiter if it waits for one of them. */
  readonly raise: (flags: number) => void
  /**
   * Waits until one of `flags` is raised (at once if one already is) or `timeoutMs` passes
   * (`Infinity`: no timer); lowers `flags` when it returns: the loop looks at its state again
   * after any wake-up.
   */
  readonly wait: (flags: number, timeoutMs: number) => Effect.Effect<void>
}

export const make = (): WakeUps => {
  let raised = 0
  let waiter: { readonly flags: number; readonly done: () => void } | undefined
  return {
    raise: (flags) => {
      raised |= flags
      if (waiter !== undefined && (waiter.flags & raised) !== 0) waiter.done()
    },
    wait: (flags, timeoutMs) =>
      Effect.async<void>((resume) => {
        if ((raised & flags) !== 0) {
          raised &= ~flags
          resume(Effect.void)
          return
        }
        const done = () => {
          if (timer !== undefined) clearTimeout(timer)
          waiter = undefined
          raised &= ~flags
          resume(Effect.void)
        }
        const timer = Number.isFinite(timeoutMs) ? setTimeout(done, timeoutMs) : undefined
        waiter = { flags, done }
        return Effect.sync(() => {
          if (timer !== undefined) clearTimeout(timer)
          waiter = undefined
        })
      })
  }
}
