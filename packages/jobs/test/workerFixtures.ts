/** Helpers for worker tests: run a worker for the length of a block, and wait for the database. */
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Layer, Schedule } from "effect"
import type { JobHandler } from "../src/JobDefinition.js"
import * as Worker from "../src/Worker.js"

export const fastWorker = {
  pollInterval: "50 millis",
  shutdownGrace: "2 seconds",
  batchSize: 100
} as const

/** Runs `body` while a worker with these handlers runs; the worker shuts down after. */
export const withWorker = <const H extends ReadonlyArray<JobHandler<unknown>>, A, E, R>(
  options: Worker.WorkerOptions<H>,
  body: Effect.Effect<A, E, R>
) =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* Layer.buildWithScope(Worker.layer({ ...fastWorker, ...options }), yield* Effect.scope)
      return yield* body
    })
  )

/** Polls `query` until `done` holds (at most `timeout`). */
export const eventually = <A, E, R>(
  query: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeout: Duration.DurationInput = "15 seconds"
) =>
  query.pipe(
    Effect.filterOrFail(done, () => "not yet" as const),
    Effect.retry(Schedule.spaced("25 millis")),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`condition not met within ${Duration.format(Duration.decode(timeout))}`) })
  )

export const count = (where: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe<{ n: string }>(`select count(*) as n from ${where}`), (rows) => Number(rows[0]!.n)))
