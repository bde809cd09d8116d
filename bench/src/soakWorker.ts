/**
 * The worker of `pnpm bench:soak`: `Redrive.layerWorker` with its defaults (maintenance, completer,
 * metrics, alerts, replay runner) and one job type. Of every 100 jobs (by `n`), 9 fail once
 * transiently (retried after 50–500 ms) and 1 fails for good (dead-lettered): 10 % failures.
 * Every 10 s it prints `SOAK {"p50":…,"p99":…,"started":…}`: enqueue → handler start of the first
 * attempts in that window, from the enqueue time the payload carries. SOAK_URL is its database.
 */
import { NodeRuntime } from "@effect/platform-node"
import { JobDefinition, JobErrors, Redrive } from "@redrive/jobs"
import { Console, Effect, Layer, Redacted, Schedule } from "effect"
import { SoakJob } from "./soakJob.js"

let latencies: Array<number> = []

const handler = JobDefinition.handle(SoakJob, (payload, ctx) =>
  Effect.suspend((): Effect.Effect<void, JobErrors.ValidationError | JobErrors.ExternalApiError> => {
    if (ctx.attempt === 1) latencies.push(Date.now() - payload.at)
    const slot = payload.n % 100
    if (slot === 1) return Effect.fail(new JobErrors.ValidationError({ message: `job ${payload.n} can never succeed` }))
    if (slot % 10 === 0 && ctx.attempt === 1) {
      return Effect.fail(new JobErrors.ExternalApiError({ message: `job ${payload.n}: upstream 503`, status: 503 }))
    }
    return Effect.void
  }))

const pct = (xs: Array<number>, p: number) =>
  xs.length === 0 ? 0 : xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!

/** One line per window; the window's latencies are dropped after it. */
const report = Effect.suspend(() => {
  const xs = latencies.sort((a, b) => a - b)
  latencies = []
  return Console.log(`SOAK ${JSON.stringify({ p50: pct(xs, 50), p99: pct(xs, 99), started: xs.length })}`)
}).pipe(Effect.repeat(Schedule.spaced("10 seconds")))

Layer.launch(
  Layer.mergeAll(
    Redrive.layerWorker({
      handlers: [handler],
      database: { url: Redacted.make(process.env.SOAK_URL ?? ""), maxConnections: 10 },
      cursorSecret: Redacted.make("soak-bench-cursor-secret")
    }),
    Layer.scopedDiscard(Effect.forkScoped(report)),
    Layer.effectDiscard(Console.log(`soak worker ready pid=${process.pid}`))
  )
).pipe(NodeRuntime.runMain)
