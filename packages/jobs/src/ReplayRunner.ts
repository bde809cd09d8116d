/**
 * Runs bulk replays in the background: picks the oldest request that needs a runner (pending,
 * or running under an expired lease: a crashed run) and replays it with `Replay.runBulk`.
 * Several runners may run side by side; the lease makes sure one request has one runner.
 * The loop logs failures and keeps going: it never dies while its scope is open.
 */
import { Duration, Effect, Layer, Option } from "effect"
import { hostname } from "node:os"
import { Replay } from "./Replay.js"

export interface ReplayRunnerOptions {
  /** Recorded in `replay_request.locked_by` (default: host, pid and a random suffix). */
  readonly workerId?: string
  /** How long to wait when no request needs a runner (default 1 second). */
  readonly pollInterval?: Duration.DurationInput
}

export const defaultWorkerId = () => `replay-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`

/** One pass: runs the next request if there is one; true when there was one (look again at once). */
const runNext = (replay: typeof Replay.Service, workerId: string) =>
  Effect.flatMap(replay.nextRunnable, (next) =>
    Option.match(next, {
      onNone: () => Effect.succeed(false),
      onSome: (id) =>
        replay.runBulk(id, workerId).pipe(
          Effect.tap((run) =>
            Effect.logInfo("bulk replay run ended").pipe(
              Effect.annotateLogs({
                replayRequestId: id,
                outcome: run._tag,
                state: run.request.state,
                replayed: run.request.replayed
              })
            )
          ),
          Effect.as(true)
        )
    }))

/** The runner loop, for use without the layer (e.g. in a Singleton). Runs until interrupted. */
export const run = (options: ReplayRunnerOptions = {}) =>
  Effect.gen(function*() {
    const replay = yield* Replay
    const workerId = options.workerId ?? defaultWorkerId()
    const pollInterval = Duration.decode(options.pollInterval ?? "1 second")
    const pass = runNext(replay, workerId).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logError("bulk replay runner pass failed; retrying", cause).pipe(Effect.as(false))
      ),
      Effect.withSpan("ReplayRunner.pass", { attributes: { workerId } })
    )
    return yield* Effect.forever(
      Effect.flatMap(pass, (ranOne) => ranOne ? Effect.void : Effect.sleep(pollInterval))
    )
  }).pipe(Effect.annotateLogs({ service: "ReplayRunner" }))

/** Forks the runner loop for the lifetime of the layer. Needs Replay. */
export const layer = (options: ReplayRunnerOptions = {}) => Layer.scopedDiscard(Effect.forkScoped(run(options)))
