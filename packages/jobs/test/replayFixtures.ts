/** Dead letters, job definitions and assertions shared by the replay tests. */
import { SqlClient } from "@effect/sql"
import { ErrorHistory, Ids } from "@redrive/database"
import { Chunk, Duration, Effect, Fiber, Option, Schema, TestClock, TestServices } from "effect"
import * as JobDefinition from "../src/JobDefinition.js"

export const Email = JobDefinition.make({
  name: "email.send",
  queue: "mail",
  payload: Schema.Struct({
    to: Schema.Trim.pipe(Schema.pattern(/@/, { message: () => "must be an email address" })),
    address: Schema.optional(Schema.Struct({ zip: Schema.String.pipe(Schema.length(5)) }))
  })
})

export const history3: ErrorHistory.ErrorHistory = [
  {
    attempt: 1,
    at: new Date("2026-11-23T10:00:00.123Z"),
    kind: "failed",
    errorClass: "external_api",
    tag: "HttpError",
    message: "503 Service Unavailable",
    durationMs: 120,
    workerId: "w-1"
  },
  {
    attempt: 2,
    at: new Date("2026-11-23T10:00:02.456Z"),
    kind: "timeout",
    errorClass: "timeout",
    tag: "TimeoutException",
    message: "handler exceeded 30s",
    durationMs: 30000,
    workerId: "w-2"
  },
  {
    attempt: 3,
    at: new Date("2026-11-23T10:00:10.789Z"),
    kind: "failed",
    errorClass: "external_api",
    tag: "HttpError",
    message: "502 Bad Gateway",
    durationMs: 3,
    workerId: "w-1"
  }
]

let nextJobId = 50_000_000

export interface SeedOptions {
  readonly queue: string
  readonly count: number
  readonly tenant?: string
  readonly type?: string
  readonly errorClass?: string
  readonly history?: ErrorHistory.ErrorHistory
}

/** Inserts `count` dead letters in one statement and returns their ids, ascending. */
export const seedDeadLetters = (options: SeedOptions) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const base = nextJobId
    nextJobId += options.count
    const history = JSON.stringify(yield* Schema.encode(ErrorHistory.ErrorHistory)(options.history ?? history3))
    const rows = yield* sql<{ id: string }>`
      insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, max_attempts, error_class,
        error_reason, attempts, error_history, fingerprint, first_failed_at, request_id, user_id)
      select ${base}::bigint + g, ${options.tenant ?? "default"}, ${options.queue}, ${options.type ?? "email.send"},
        jsonb_build_object('to', 'user' || g || '@example.com'), 3, 4, ${options.errorClass ?? "external_api"},
        '502 Bad Gateway', 3, ${history}::jsonb, 'fp-' || ${options.queue}, now() - interval '1 minute',
        'req-' || g, 'user-1'
      from generate_series(1, ${options.count}::int) g
      returning id`
    return rows.map((r) => Ids.DlqId.make(Number(r.id))).sort((a, b) => a - b)
  })

/** How many jobs each dead letter was replayed into (only dead letters with at least one). */
export const replayCounts = (ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ replayOf: string; n: string }>`
      select replay_of, count(*) as n from redrive.job where replay_of = any(${ids}::bigint[]) group by replay_of`
    return new Map(rows.map((r) => [Number(r.replayOf), Number(r.n)]))
  })

/** Dead letters among `ids` that are still unreplayed. */
export const unreplayed = (ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ n: string }>`
      select count(*) as n from redrive.job_dlq where id = any(${ids}::bigint[]) and replayed_at is null`
    return Number(rows[0]?.n ?? -1)
  })

/** Every dead letter's stamp points at the one job that names it in `replay_of`. */
export const stampsMatchJobs = (ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ n: string }>`
      select count(*) as n from redrive.job_dlq d join redrive.job j on j.id = d.replay_job_id and j.replay_of = d.id
      where d.id = any(${ids}::bigint[])`
    return Number(rows[0]?.n ?? -1)
  })

const liveSleep = (millis: number) => TestServices.provideLive(Effect.sleep(Duration.millis(millis)))

/** Waits in real time until `fiber` sleeps on the TestClock (between batches) or ends. */
export const untilAsleepOrDone = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) return "done" as const
      if (Chunk.size(yield* TestClock.sleeps()) > 0) return "asleep" as const
      yield* liveSleep(5)
    }
    return yield* Effect.dieMessage("the fiber neither slept nor ended within 5 s")
  })

/** Advances the TestClock a second at a time until `fiber` ends; returns its result. */
export const driveToEnd = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    while ((yield* untilAsleepOrDone(fiber)) === "asleep") yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })
