/**
 * A worker's side of the circuit breaker: it registers the breaker-enabled types it runs (their
 * settings and queue, in `redrive.circuit`), counts their attempts and trip-class failures in
 * memory as outcomes are handed to the completer (by the tenth of a second they ended in), and
 * flushes the counts once a second in one statement for every type — nothing per job reaches the
 * database. Types without a breaker cost
 * one Map lookup per outcome; a worker with none has no counter at all.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { type Duration, Effect, Schedule, type Scope } from "effect"
import * as Circuit from "../Circuit.js"
import type { AnyJobDefinition } from "../JobDefinition.js"
import type { Outcome } from "../Outcome.js"
import * as CircuitSql from "./circuitSql.js"

export interface CircuitCounter {
  /** Counts one settled attempt of `type` (synchronous: called from the lanes). */
  readonly record: (type: string, outcome: Outcome) => void
}

interface Tally {
  attempts: number
  failures: number
}

/** Attempts are kept by the tenth of a second they ended in; a flush sends each tally's age. */
const tenth = (ms: number) => Math.floor(ms / 100)

export const make = (
  sql: SqlClient,
  definitions: ReadonlyArray<Pick<AnyJobDefinition, "name" | "queue" | "circuitBreaker">>,
  flushInterval: Duration.DurationInput = "1 second"
): Effect.Effect<CircuitCounter | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const enabled = new Map<string, Circuit.Settings>()
    const registrations: Array<CircuitSql.Registration> = []
    for (const d of definitions) {
      if (d.circuitBreaker === undefined || enabled.has(d.name)) continue
      enabled.set(d.name, d.circuitBreaker)
      registrations.push({ type: d.name, queues: [d.queue], ...d.circuitBreaker })
    }
    if (enabled.size === 0) return undefined

    // Registered in the background: a worker starts even while the database is away.
    yield* CircuitSql.register(sql, registrations).pipe(
      Effect.tapErrorCause((cause) => Effect.logWarning("redrive worker: circuit registration failed, retrying", cause)),
      Effect.retry(Schedule.spaced("1 second")),
      Effect.forkScoped
    )

    /** By type, then by the tenth of a second (this process's clock) the attempts ended in. */
    let counts = new Map<string, Map<number, Tally>>()
    const add = (type: string, at: number, attempts: number, failures: number) => {
      let byTime = counts.get(type)
      if (byTime === undefined) counts.set(type, byTime = new Map())
      const tally = byTime.get(at)
      if (tally === undefined) byTime.set(at, { attempts, failures })
      else {
        tally.attempts += attempts
        tally.failures += failures
      }
    }
    // Each tally goes with its age (ms before the flush), and the database files it under its own
    // clock's second: the workers' clocks never meet the leader's, only durations do.
    const flush = Effect.suspend(() => {
      if (counts.size === 0) return Effect.void
      const taken = counts
      counts = new Map()
      const now = Date.now()
      const types: Array<string> = []
      const ages: Array<number> = []
      const attempts: Array<number> = []
      const failures: Array<number> = []
      for (const [type, byTime] of taken) {
        for (const [at, t] of byTime) {
          types.push(type)
          ages.push(Math.max(0, now - at * 100 - 50))
          attempts.push(t.attempts)
          failures.push(t.failures)
        }
      }
      return CircuitSql.flushCounts(sql, { types, ages, attempts, failures }).pipe(
        Effect.asVoid,
        // Not lost on a failed flush: added back (with their times), sent with the next one.
        Effect.tapError(() =>
          Effect.sync(() => {
            for (const [type, byTime] of taken) for (const [at, t] of byTime) add(type, at, t.attempts, t.failures)
          })
        ),
        Effect.catchAllCause((cause) => Effect.logWarning("redrive worker: circuit counts flush failed", cause))
      )
    })

    yield* flush.pipe(Effect.repeat(Schedule.spaced(flushInterval)), Effect.forkScoped)
    // The last second's counts, when the worker stops.
    yield* Effect.addFinalizer(() => flush)

    return {
      record: (type, outcome) => {
        const settings = enabled.get(type)
        if (settings === undefined) return
        const { attempts, failures } = Circuit.tally(settings, outcome)
        if (attempts > 0) add(type, tenth(Date.now()), attempts, failures)
      }
    } satisfies CircuitCounter
  })
