/**
 * Counts a worker's completed jobs per tenant and queue in memory, by the second they were
 * settled in, and flushes them every few seconds in one statement (throughputSql.ts) — the
 * console's throughput chart without a write per job or per settle batch. A failed flush keeps
 * its counts for the next one; the scope's close flushes the rest. A SIGKILL loses only the
 * counts not yet flushed (a few seconds of a statistic, never a job).
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { type Duration, Effect, Schedule, type Scope } from "effect"
import * as ThroughputSql from "./throughputSql.js"

export interface ThroughputCounter {
  /** Counts `n` jobs of `tenant` and `queue` completed now (synchronous: called from the completer). */
  readonly record: (tenant: string, queue: string, n: number) => void
}

const second = (ms: number) => Math.floor(ms / 1000)

export const make = (
  sql: SqlClient,
  flushInterval: Duration.DurationInput = "5 seconds"
): Effect.Effect<ThroughputCounter, never, Scope.Scope> =>
  Effect.gen(function*() {
    /** tenant → queue → second → count */
    let counts = new Map<string, Map<string, Map<number, number>>>()
    const add = (tenant: string, queue: string, at: number, n: number) => {
      let byQueue = counts.get(tenant)
      if (byQueue === undefined) counts.set(tenant, byQueue = new Map())
      let bySecond = byQueue.get(queue)
      if (bySecond === undefined) byQueue.set(queue, bySecond = new Map())
      bySecond.set(at, (bySecond.get(at) ?? 0) + n)
    }

    const flush = Effect.suspend(() => {
      if (counts.size === 0) return Effect.void
      const taken = counts
      counts = new Map()
      const now = Date.now()
      const tenants: Array<string> = []
      const queues: Array<string> = []
      const ages: Array<number> = []
      const completed: Array<number> = []
      for (const [tenant, byQueue] of taken) {
        for (const [queue, bySecond] of byQueue) {
          for (const [at, n] of bySecond) {
            tenants.push(tenant)
            queues.push(queue)
            ages.push(Math.max(0, now - at * 1000 - 500))
            completed.push(n)
          }
        }
      }
      return ThroughputSql.flushCompleted(sql, { tenants, queues, ages, completed }).pipe(
        Effect.asVoid,
        Effect.tapError(() =>
          Effect.sync(() => {
            for (const [tenant, byQueue] of taken) {
              for (const [queue, bySecond] of byQueue) for (const [at, n] of bySecond) add(tenant, queue, at, n)
            }
          })
        ),
        Effect.catchAllCause((cause) => Effect.logWarning("redrive worker: throughput counts flush failed", cause))
      )
    })

    yield* flush.pipe(Effect.repeat(Schedule.spaced(flushInterval)), Effect.forkScoped)
    yield* Effect.addFinalizer(() => flush)

    return {
      record: (tenant, queue, n) => add(tenant, queue, second(Date.now()), n)
    } satisfies ThroughputCounter
  })
