/**
 * Retention: a maintenance task (Maintenance.ts: one process per database) that deletes, every
 * `interval`, the rows kept past their retention — per kind of row, with these defaults (close to
 * River's, Oban's and pg-boss's):
 *
 * | kind                  | rows                                                        | default  |
 * | --------------------- | ----------------------------------------------------------- | -------- |
 * | completedJobs         | `job` completed (they exist only with `keepCompleted`)      | 1 day    |
 * | cancelledJobs         | `job` cancelled                                             | 7 days   |
 * | replayedDeadLetters   | `job_dlq` replayed, by `replayed_at`                        | 7 days   |
 * | deadLetters           | `job_dlq` never replayed, by `dlq_at`                       | 30 days  |
 * | alertDeliveries       | `alert_delivery` delivered or failed (never pending)        | 14 days  |
 * | controlEvents         | `control_event` (the audit of pauses, drains, resumes)      | 90 days  |
 * | replayRequests        | `replay_request` done, cancelled or failed, by `finished_at`| 30 days  |
 * | jobReruns             | `job_rerun` request keys of JobCommands.rerun               | 30 days  |
 * | failureStats          | `failure_stat` per-minute buckets                           | 30 days  |
 * | throughputStats       | `throughput_stat` per-minute completed counts               | 30 days  |
 * | clusterMessages       | @effect/cluster's processed requests + replies, if present  | 7 days   |
 *
 * plus `circuit_count` buckets past every circuit's window (always). Each kind is set by
 * `PrunerOptions.retention`, else by `REDRIVE_RETENTION_<KIND>` (`REDRIVE_RETENTION_DEAD_LETTERS=60
 * days`), else the default; `false`, `0`, `off` or `forever` keep that kind forever.
 *
 * Deletes run in batches of `batchSize` rows, each one statement in its own short transaction,
 * rows locked `skip locked` (never waiting on a replay or a settle), at most `maxBatches` per kind
 * per pass: a backlog (the first pass on an old database) is worked off over several passes
 * instead of holding the leader's connection for minutes. A dead letter stays while a pending or
 * running bulk replay may still replay it, and a replayed one while its replay job is unfinished.
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError } from "@redrive/database"
import { Config, ConfigError, Duration, Effect, Either, Metric, Option } from "effect"
import * as PruneSql from "./internal/pruneSql.js"
import * as Metrics from "./Metrics.js"

/** How long a kind of row is kept: a duration (a number is milliseconds), or false / 0 for ever. */
export type Retention = Duration.DurationInput | false

export const retentionKinds = [
  "completedJobs",
  "cancelledJobs",
  "replayedDeadLetters",
  "deadLetters",
  "alertDeliveries",
  "controlEvents",
  "replayRequests",
  "jobReruns",
  "failureStats",
  "throughputStats",
  "clusterMessages"
] as const
export type RetentionKind = typeof retentionKinds[number]

export const defaultRetention: { readonly [K in RetentionKind]: Duration.Duration } = {
  completedJobs: Duration.days(1),
  cancelledJobs: Duration.days(7),
  replayedDeadLetters: Duration.days(7),
  deadLetters: Duration.days(30),
  alertDeliveries: Duration.days(14),
  controlEvents: Duration.days(90),
  replayRequests: Duration.days(30),
  jobReruns: Duration.days(30),
  failureStats: Duration.days(30),
  throughputStats: Duration.days(30),
  clusterMessages: Duration.days(7)
}

/** A retention per kind; a kind left out takes its environment variable, else its default. */
export type RetentionSettings = { readonly [K in RetentionKind]?: Retention }

export interface PrunerOptions {
  /** Time between passes (default 1 minute); the first pass runs one interval after taking the lead. */
  readonly interval?: Duration.DurationInput
  /** Rows one statement deletes at most (default 5,000). */
  readonly batchSize?: number
  /** Statements per kind per pass at most (default 10); what is left goes on the next pass. */
  readonly maxBatches?: number
  /** Per kind; a kind left out takes `REDRIVE_RETENTION_<KIND>`, else its default. */
  readonly retention?: RetentionSettings
  /** The table prefix of @effect/cluster's SqlMessageStorage (default `cluster`). */
  readonly clusterTablePrefix?: string
}

/** What a pass did to one kind: rows deleted, statements run, and whether its budget ran out first. */
export interface Pruned {
  readonly deleted: number
  readonly batches: number
  /** The kind hit `maxBatches` with full batches: rows past retention may remain for the next pass. */
  readonly more: boolean
}
export type PruneResult = { readonly [K in RetentionKind | "circuitCounts"]: Pruned }

/** `REDRIVE_RETENTION_DEAD_LETTERS` for `deadLetters`. */
export const envName = (kind: RetentionKind) => `REDRIVE_RETENTION_${kind.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`

const forever = /^(false|off|0|forever|never)$/i

/** A retention as written in the environment: a duration (`30 days`, `12 hours`) or false/0/off/forever. */
const retentionConfig = (kind: RetentionKind): Config.Config<Option.Option<Retention>> =>
  Config.option(
    Config.string(envName(kind)).pipe(
      Config.mapOrFail((text) => {
        if (forever.test(text.trim())) return Either.right<Retention>(false)
        const decoded = Duration.decodeUnknown(text.trim())
        return Option.isSome(decoded)
          ? Either.right<Retention>(decoded.value)
          : Either.left(
            ConfigError.InvalidData(
              [envName(kind)],
              `expected a duration such as "30 days" or "12 hours", or false/0/off/forever to keep for ever, got ${JSON.stringify(text)}`
            )
          )
      })
    )
  )

/** Every `REDRIVE_RETENTION_*` that is set. */
export const config: Config.Config<RetentionSettings> = Config.map(
  Config.all(Object.fromEntries(retentionKinds.map((kind) => [kind, retentionConfig(kind)])) as {
    readonly [K in RetentionKind]: Config.Config<Option.Option<Retention>>
  }),
  (found) => {
    const out: { [K in RetentionKind]?: Retention } = {}
    for (const kind of retentionKinds) if (Option.isSome(found[kind])) out[kind] = found[kind].value
    return out
  }
)

/** Milliseconds to keep, or null to keep for ever. */
const millis = (retention: Retention): number | null => {
  if (retention === false) return null
  const ms = Duration.toMillis(Duration.decode(retention))
  return ms > 0 && Number.isFinite(ms) ? Math.round(ms) : null
}

/** The statement of one kind, for a retention of `ms`. */
const statementOf = (sql: SqlClient.SqlClient, kind: RetentionKind, ms: number, limit: number, prefix: string) => {
  switch (kind) {
    case "completedJobs":
      return PruneSql.finishedJobs(sql, "completed", ms, limit)
    case "cancelledJobs":
      return PruneSql.finishedJobs(sql, "cancelled", ms, limit)
    case "replayedDeadLetters":
      return PruneSql.replayedDeadLetters(sql, ms, limit)
    case "deadLetters":
      return PruneSql.deadLetters(sql, ms, limit)
    case "alertDeliveries":
      return PruneSql.alertDeliveries(sql, ms, limit)
    case "controlEvents":
      return PruneSql.controlEvents(sql, ms, limit)
    case "replayRequests":
      return PruneSql.replayRequests(sql, ms, limit)
    case "jobReruns":
      return PruneSql.jobReruns(sql, ms, limit)
    case "failureStats":
      return PruneSql.failureStats(sql, ms, limit)
    case "throughputStats":
      return PruneSql.throughputStats(sql, ms, limit)
    case "clusterMessages":
      return PruneSql.clusterMessages(sql, prefix, ms, limit)
  }
}

const nothing: Pruned = { deleted: 0, batches: 0, more: false }

/** Runs `statement` up to `maxBatches` times, while its batches come back full. */
const drain = <E>(
  statement: Effect.Effect<ReadonlyArray<{ readonly deleted: number }>, E>,
  limit: number,
  maxBatches: number
) =>
  Effect.gen(function*() {
    let deleted = 0
    let batches = 0
    for (;;) {
      const [row] = yield* statement
      const n = Number(row?.deleted ?? 0)
      deleted += n
      batches += 1
      if (n < limit) return { deleted, batches, more: false } satisfies Pruned
      if (batches >= maxBatches) return { deleted, batches, more: true } satisfies Pruned
    }
  })

/** The retention in force for each kind: the options, else the environment, else the default. */
export const resolve = (options: PrunerOptions = {}) =>
  Effect.map(config, (fromEnv) => {
    const out = {} as { [K in RetentionKind]: number | null }
    for (const kind of retentionKinds) {
      out[kind] = millis(options.retention?.[kind] ?? fromEnv[kind] ?? defaultRetention[kind])
    }
    return out as { readonly [K in RetentionKind]: number | null }
  })

/**
 * One pass: every kind whose retention is on, at most `maxBatches` statements each. Tests and
 * operators call it directly; the task calls it every `interval`.
 */
export const pruneOnce = (options: PrunerOptions = {}) =>
  Effect.flatMap(resolve(options), (retention) => run(options, retention)).pipe(Effect.withSpan("Pruner.pruneOnce"))

const run = (options: PrunerOptions, retention: Effect.Effect.Success<ReturnType<typeof resolve>>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const limit = options.batchSize ?? 5000
    const maxBatches = options.maxBatches ?? 10
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(maxBatches) || maxBatches < 1) {
      return yield* Effect.dieMessage("Pruner: batchSize and maxBatches must be positive integers")
    }
    const prefix = options.clusterTablePrefix ?? "cluster"
    const result = { circuitCounts: nothing } as { -readonly [K in keyof PruneResult]: Pruned }
    for (const kind of retentionKinds) {
      const ms = retention[kind]
      result[kind] = nothing
      if (ms === null) continue
      if (kind === "clusterMessages") {
        const [found] = yield* PruneSql.clusterTablesExist(sql, prefix)
        if (found?.exists !== true) continue
      }
      result[kind] = yield* drain(statementOf(sql, kind, ms, limit, prefix), limit, maxBatches)
    }
    result.circuitCounts = yield* drain(PruneSql.circuitCounts(sql, limit), limit, maxBatches)

    const removed = Object.entries(result).filter(([, r]) => r.deleted > 0)
    for (const [kind, r] of removed) yield* Metric.incrementBy(Metric.tagged(Metrics.rowsPruned, "kind", kind), r.deleted)
    if (removed.length > 0) {
      yield* Effect.logInfo(
        `redrive pruner: ${removed.map(([kind, r]) => `${r.deleted} ${kind}${r.more ? " (more left)" : ""}`).join(", ")}`
      )
    }
    return result as PruneResult
  }).pipe(Effect.mapError(DbError.fromSqlError("Pruner.pruneOnce")))

/**
 * `pruneOnce` every `interval` (the first one interval after taking the lead: retention is never
 * urgent, and a leader that changes often does not prune on every takeover); a failed pass is
 * logged, never fatal. An invalid `REDRIVE_RETENTION_*` is logged as an error and stops the pruner.
 */
export const task = (options: PrunerOptions = {}) => {
  const interval = Duration.decode(options.interval ?? "1 minute")
  return resolve(options).pipe(
    Effect.zipRight(
      pruneOnce(options).pipe(
        Effect.catchAllCause((cause) => Effect.logError("redrive pruner: pass failed", cause)),
        Effect.delay(interval),
        Effect.forever
      )
    ),
    Effect.catchAll((error) => Effect.logError("redrive pruner: invalid retention settings, not pruning", error)),
    Effect.asVoid
  )
}
