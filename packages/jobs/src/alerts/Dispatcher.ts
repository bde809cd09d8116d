/**
 * The alert dispatcher: a maintenance task (one process per database) that delivers the outbox.
 * Each pass claims due deliveries in one statement (internal/alertSql.ts `claim`: lease, skip
 * locked, digests), sends them with bounded concurrency, each under a timeout, and records every
 * try in one statement (`record`: an alert_attempt row per try, the delivery's state, its digest's
 * rows). A try that fails is retried with exponential backoff until `maxAttempts`, then the
 * delivery is `failed`.
 *
 * It runs on its own fiber and holds no database connection while it sends, so a dead, slow or
 * failing endpoint costs job processing nothing: the worst it does is keep its own deliveries
 * pending. Delivery is at least once (a leader that dies after sending, before recording, is
 * retried by the next): receivers deduplicate on the message id (`webhook-id`).
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError } from "@redrive/database"
import { Clock, Duration, Effect, Metric, Schema } from "effect"
import * as AlertSql from "../internal/alertSql.js"
import * as Metrics from "../Metrics.js"
import { scrub, type SendFailed, type Sent, type Target } from "./Channel.js"
import * as Digest from "./Digest.js"
import * as Email from "./Email.js"
import type { Alert } from "./Message.js"
import * as Slack from "./Slack.js"
import * as Webhook from "./Webhook.js"

export interface DispatcherOptions {
  /** Time between passes when there was nothing more to send (default 1 s). */
  readonly interval?: Duration.DurationInput
  /** Deliveries claimed per pass (default 50). */
  readonly batchSize?: number
  /** Sends in flight at once (default 8). */
  readonly concurrency?: number
  /** Longest a send may take (default 10 s): a hanging endpoint is a `timeout` try. */
  readonly timeout?: Duration.DurationInput
  /** Tries per delivery before it is `failed` (default 8). */
  readonly maxAttempts?: number
  /** The wait after the first failed try, doubled after each (default 10 s), up to `maxBackoff` (1 h). */
  readonly backoff?: Duration.DurationInput
  readonly maxBackoff?: Duration.DurationInput
  /** Most deliveries one digest carries (default 10,000). */
  readonly digestMax?: number
}

/** The wait before try `attempt + 1`, after `attempt` failed tries. */
export const retryDelayMs = (attempt: number, baseMs: number, maxMs: number): number =>
  Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))

const Claimed = Schema.Struct({
  id: Schema.String,
  channel_id: Schema.String,
  tenant_id: Schema.NullOr(Schema.String),
  event: Schema.String,
  payload: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  coalesce_key: Schema.NullOr(Schema.String),
  attempt: Schema.Int,
  created_at: Schema.DateFromSelf,
  kind: Schema.Literal("webhook", "slack", "email"),
  name: Schema.String,
  url: Schema.String,
  secret: Schema.NullOr(Schema.String),
  recipients: Schema.Array(Schema.String),
  sender: Schema.NullOr(Schema.String),
  coalesced: Schema.Int,
  samples: Schema.NullOr(Schema.Array(Schema.Unknown))
})
type Claimed = typeof Claimed.Type
const decodeClaimed = Schema.decodeUnknown(Schema.Array(Claimed))

/** What one pass did. */
export interface Pass {
  readonly sent: number
  readonly delivered: number
  readonly failed: number
  readonly timedOut: number
  /** Deliveries carried inside digests this pass (settled with their message). */
  readonly carried: number
}

const sendTo = (target: Target, alert: Alert, now: Date, timeoutMs: number): Effect.Effect<Sent, SendFailed> => {
  switch (target.kind) {
    case "webhook":
      return Webhook.send(target, alert, now)
    case "slack":
      return Slack.send(target, alert)
    case "email":
      return Email.send(target, alert, timeoutMs)
  }
}

/** One try of one claimed delivery: never fails; its outcome is data. */
const attempt = (row: Claimed, o: Required<Pick<DispatcherOptions, "maxAttempts">> & {
  readonly timeoutMs: number
  readonly backoffMs: number
  readonly maxBackoffMs: number
}) =>
  Effect.gen(function*() {
    const target: Target = {
      id: row.channel_id,
      kind: row.kind,
      name: row.name,
      url: row.url,
      secret: row.secret,
      recipients: row.recipients,
      sender: row.sender
    }
    const alert: Alert = {
      id: row.id,
      event: row.event,
      tenantId: row.tenant_id,
      payload: row.payload,
      at: row.created_at,
      digest: Digest.of({ coalesceKey: row.coalesce_key, coalesced: row.coalesced, samples: row.samples })
    }
    const start = yield* Clock.currentTimeMillis
    const result = yield* sendTo(target, alert, new Date(start), o.timeoutMs).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(o.timeoutMs),
        onTimeout: () => "timeout" as const
      }),
      Effect.either
    )
    const durationMs = Math.max(0, (yield* Clock.currentTimeMillis) - start)
    const retryInMs = row.attempt >= o.maxAttempts ? null : retryDelayMs(row.attempt, o.backoffMs, o.maxBackoffMs)
    const base = { id: Number(row.id), attempt: row.attempt, durationMs, carried: row.coalesced + 1 }
    const record: AlertSql.TryRecord = result._tag === "Right"
      ? { ...base, outcome: "delivered", status: result.right.status, error: null, retryInMs: null }
      : result.left === "timeout"
      ? { ...base, outcome: "timeout", status: null, error: `no answer within ${o.timeoutMs} ms`, retryInMs }
      : { ...base, outcome: "failed", status: result.left.status, error: scrub(target, result.left.message), retryInMs }
    yield* Metric.increment(Metric.tagged(Metric.tagged(Metrics.alertAttempts, "kind", row.kind), "outcome", record.outcome))
    if (record.outcome !== "delivered") {
      // Per try at debug level only: a dead endpoint fails every try, and the task warns once a
      // minute per channel instead (ChannelWarnings). The channel's id and name only: never its URL
      // or secret.
      yield* Effect.logDebug(
        `redrive alerts: ${row.event} to channel ${row.name} (${row.kind}) — try ${row.attempt} ${record.outcome}` +
          (record.retryInMs === null ? "; out of tries, failed" : `; next try in ${Math.round(record.retryInMs / 1000)} s`)
      ).pipe(Effect.annotateLogs({ channelId: row.channel_id, deliveryId: row.id, status: record.status ?? "-" }))
    }
    return record
  })

/**
 * The warnings about failing channels: one line per channel at most every `everyMs`, counting the
 * tries it stands for (failed, timed out, out of tries), so an endpoint that is down for an hour
 * writes 60 lines, not one per alert.
 */
export const channelWarnings = (everyMs = 60_000) => {
  interface Tally { failed: number; timedOut: number; gaveUp: number; lastStatus: number | null; warnedAt: number }
  const tallies = new Map<string, Tally>()
  return (rows: ReadonlyArray<Claimed>, tries: ReadonlyArray<AlertSql.TryRecord>, now: number) =>
    Effect.gen(function*() {
      const failing = new Map<string, Claimed>()
      tries.forEach((t, i) => {
        if (t.outcome === "delivered") return
        const row = rows[i]!
        const tally = tallies.get(row.channel_id) ?? { failed: 0, timedOut: 0, gaveUp: 0, lastStatus: null, warnedAt: -Infinity }
        if (t.outcome === "timeout") tally.timedOut++
        else tally.failed++
        if (t.retryInMs === null) tally.gaveUp++
        tally.lastStatus = t.status
        tallies.set(row.channel_id, tally)
        failing.set(row.channel_id, row)
      })
      for (const [channelId, row] of failing) {
        const tally = tallies.get(channelId)!
        if (now - tally.warnedAt < everyMs) continue
        const parts = [
          tally.failed > 0 ? `${tally.failed} failed` : "",
          tally.timedOut > 0 ? `${tally.timedOut} timed out` : "",
          tally.gaveUp > 0 ? `${tally.gaveUp} out of tries (failed for good)` : ""
        ].filter((p) => p !== "")
        yield* Effect.logWarning(
          `redrive alerts: channel ${row.name} (${row.kind}) is failing: ${parts.join(", ")}` +
            (Number.isFinite(tally.warnedAt) ? ` since the last warning` : "") +
            (tally.lastStatus === null ? "" : `; last status ${tally.lastStatus}`) +
            "; every try is in redrive.alert_attempt"
        ).pipe(Effect.annotateLogs({ channelId }))
        tallies.set(channelId, { failed: 0, timedOut: 0, gaveUp: 0, lastStatus: null, warnedAt: now })
      }
    })
}

/** One pass: claim, send, record. */
export const runOnce = (options: DispatcherOptions = {}, warn = channelWarnings()) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const timeoutMs = Duration.toMillis(Duration.decode(options.timeout ?? "10 seconds"))
    const o = {
      maxAttempts: options.maxAttempts ?? 8,
      timeoutMs,
      backoffMs: Duration.toMillis(Duration.decode(options.backoff ?? "10 seconds")),
      maxBackoffMs: Duration.toMillis(Duration.decode(options.maxBackoff ?? "1 hour"))
    }
    const rows = yield* Effect.flatMap(
      AlertSql.claim(sql, {
        limit: options.batchSize ?? 50,
        // Past the timeout, with room for recording: no other leader sees it due meanwhile.
        leaseMs: timeoutMs * 2 + 30_000,
        digestMax: options.digestMax ?? 10_000
      }),
      decodeClaimed
    )
    if (rows.length === 0) return { sent: 0, delivered: 0, failed: 0, timedOut: 0, carried: 0 } satisfies Pass
    const tries = yield* Effect.forEach(rows, (row) => attempt(row, o), { concurrency: options.concurrency ?? 8 })
    const [recorded] = yield* AlertSql.record(sql, tries)
    yield* warn(rows, tries, yield* Clock.currentTimeMillis)
    const carried = rows.reduce((n, row) => n + row.coalesced, 0)
    yield* Metric.incrementBy(Metrics.alertsCoalesced, carried)
    return {
      sent: rows.length,
      delivered: tries.filter((t) => t.outcome === "delivered").length,
      failed: tries.filter((t) => t.outcome === "failed").length,
      timedOut: tries.filter((t) => t.outcome === "timeout").length,
      carried: recorded?.carried ?? 0
    } satisfies Pass
  }).pipe(Effect.mapError(DbError.fromSqlError("AlertDispatcher.runOnce")), Effect.withSpan("AlertDispatcher.runOnce"))

/**
 * `runOnce` for as long as it runs: at once again while passes come back full, else every
 * `interval`; a failed pass (the database, say) is logged, never fatal.
 */
export const task = (options: DispatcherOptions = {}) => {
  const batchSize = options.batchSize ?? 50
  const interval = Duration.decode(options.interval ?? "1 second")
  const warn = channelWarnings()
  return Effect.suspend(() => runOnce(options, warn)).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logError("redrive alerts: dispatcher pass failed", cause).pipe(Effect.as({ sent: 0 }))
    ),
    Effect.flatMap((pass) => pass.sent >= batchSize ? Effect.void : Effect.sleep(interval)),
    Effect.forever
  )
}

