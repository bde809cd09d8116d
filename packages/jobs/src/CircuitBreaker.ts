/**
 * The circuit breaker: a maintenance task (Maintenance.ts: one process per database) that, every
 * `interval`, reads every breaker-enabled type's circuit with its window of per-second counts
 * (flushed by the workers), lets the pure state machine (Circuit.ts) decide, and carries the
 * transition out:
 *
 * - open: the type is paused by an ordinary control row (tenant `*`, queue `*`, the type; reason
 *   `circuit_open`, by `circuit-breaker`), audited in control_event, with a `circuit.opened` alert
 *   outbox row, in one statement; then its available jobs move to `paused` in bounded batches
 *   (they keep their attempts; enqueue writes `paused` for the type meanwhile, and the claim
 *   leaves any that slip through).
 * - half-open (after the cool-down): the control row becomes `probing` and a few waiting jobs
 *   are made available as probes; their success closes the circuit, a trip-class failure
 *   re-opens it with the cool-down doubled (up to its cap).
 * - close: the breaker's control row goes (audited), a `circuit.closed` alert is written, and the
 *   type's paused jobs move back in bounded batches — except those whose tenant or queue an
 *   operator paused — and their queues are woken.
 *
 * An operator may lift the type's control row (ControlRepo.resume, audited): the breaker then
 * closes the circuit with a fresh window, so the failures that opened it do not open it again.
 * A transition records the moves it still owes (`pending_move`), so a new leader finishes them.
 */
import { SqlClient } from "@effect/sql"
import { DatabaseError as DbError } from "@redrive/database"
import { Duration, Effect, Metric, Option, Schedule, Schema } from "effect"
import * as Circuit from "./Circuit.js"
import * as CircuitSql from "./internal/circuitSql.js"
import * as Metrics from "./Metrics.js"

export interface CircuitBreakerOptions {
  /** Time between passes (default 1 s: the counts are per second). */
  readonly interval?: Duration.DurationInput
  /** Most jobs one statement pauses or resumes (default 10,000). */
  readonly batchSize?: number
}

const Row = Schema.Struct({
  type: Schema.String,
  queues: Schema.Array(Schema.String),
  tripOn: Schema.Array(Schema.String),
  failureRatio: Schema.Number,
  minAttempts: Schema.Int,
  windowMs: Schema.Int,
  cooldownMs: Schema.Int,
  maxCooldownMs: Schema.Int,
  probes: Schema.Int,
  state: Schema.Literal("closed", "open", "half_open"),
  countedFrom: Schema.DateFromSelf,
  openedAt: Schema.NullOr(Schema.DateFromSelf),
  openCooldownMs: Schema.NullOr(Schema.Int),
  reopens: Schema.Int,
  halfOpenAt: Schema.NullOr(Schema.DateFromSelf),
  probesReleased: Schema.Int,
  pendingMove: Schema.NullOr(Schema.Literal("pause", "resume")),
  version: Schema.String,
  now: Schema.DateFromSelf,
  controlled: Schema.Boolean,
  buckets: Schema.Array(Schema.Tuple(Schema.Number, Schema.Int, Schema.Int))
})
type Row = typeof Row.Type
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

/** A circuit as an operator sees it. */
export interface CircuitView {
  readonly type: string
  readonly state: "closed" | "open" | "half_open"
  readonly settings: Circuit.Settings
  /** Attempts and trip-class failures in the current window (closed), or since half-open. */
  readonly counts: Circuit.Counts
  readonly openedAt: Date | null
  /** The cool-down of the current open period. */
  readonly cooldownMs: number | null
  readonly reopens: number
  /** When it goes (or went) half-open. */
  readonly probeAt: Date | null
  readonly probesReleased: number
  /** The type's control row exists (paused by the breaker, or by an operator). */
  readonly paused: boolean
  /** Waiting jobs still being moved after the last transition (to `paused`, or back), or null. */
  readonly moving: "pause" | "resume" | null
}

const settingsOf = (row: Row): Circuit.Settings => ({
  tripOn: row.tripOn,
  failureRatio: row.failureRatio,
  minAttempts: row.minAttempts,
  windowMs: row.windowMs,
  cooldownMs: row.cooldownMs,
  maxCooldownMs: row.maxCooldownMs,
  probes: row.probes
})

const stateOf = (row: Row): Circuit.State => {
  const cooldownMs = row.openCooldownMs ?? row.cooldownMs
  switch (row.state) {
    case "closed":
      return Circuit.State.Closed({ countedFrom: row.countedFrom.getTime() })
    case "open":
      return Circuit.State.Open({ openedAt: (row.openedAt ?? row.now).getTime(), cooldownMs, reopens: row.reopens })
    case "half_open":
      return Circuit.State.HalfOpen({
        since: (row.halfOpenAt ?? row.now).getTime(),
        cooldownMs,
        reopens: row.reopens,
        released: row.probesReleased
      })
  }
}

const bucketsOf = (row: Row): ReadonlyArray<Circuit.Bucket> =>
  row.buckets.map(([at, attempts, failures]) => ({ at, attempts, failures }))

/** The columns of `next`; a half-open circuit keeps the time it opened, for the operator's view. */
const columnsOf = (next: Circuit.State, row: Row, pendingMove: "pause" | "resume" | null): CircuitSql.CircuitState => {
  switch (next._tag) {
    case "Closed":
      return {
        state: "closed",
        countedFrom: new Date(next.countedFrom),
        openedAt: null,
        openCooldownMs: null,
        reopens: 0,
        halfOpenAt: null,
        probesReleased: 0,
        pendingMove
      }
    case "Open":
      return {
        state: "open",
        countedFrom: null,
        openedAt: new Date(next.openedAt),
        openCooldownMs: next.cooldownMs,
        reopens: next.reopens,
        halfOpenAt: null,
        probesReleased: 0,
        pendingMove
      }
    case "HalfOpen":
      return {
        state: "half_open",
        countedFrom: null,
        openedAt: row.openedAt ?? new Date(next.since),
        openCooldownMs: next.cooldownMs,
        reopens: next.reopens,
        halfOpenAt: new Date(next.since),
        probesReleased: next.released,
        pendingMove
      }
  }
}

const transitions = (transition: string) => Metric.tagged(Metrics.circuitTransitions, "transition", transition)

/** What one pass did to one circuit. */
export interface Step {
  readonly type: string
  readonly transition: Circuit.Transition["_tag"]
  readonly paused: number
  readonly resumed: number
  readonly probes: number
}

/**
 * Runs the moves a transition owes, in batches of `limit`, while the circuit stays at `version`;
 * then marks them done. Returns how many jobs moved.
 */
const finishMove = (sql: SqlClient.SqlClient, row: Row, version: string, move: "pause" | "resume", limit: number) =>
  Effect.gen(function*() {
    let moved = 0
    if (move === "pause") {
      for (;;) {
        const [batch] = yield* CircuitSql.pauseWaiting(sql, { type: row.type, version, queues: row.queues, limit })
        moved += batch?.moved ?? 0
        if ((batch?.moved ?? 0) < limit) break
      }
    } else {
      let after = 0
      for (;;) {
        const [batch] = yield* CircuitSql.resumeWaiting(sql, { type: row.type, version, after, limit })
        moved += batch?.moved ?? 0
        if (batch === undefined || batch.picked < limit || batch.moved < batch.picked || batch.last === null) break
        after = Number(batch.last)
      }
    }
    yield* CircuitSql.clearPendingMove(sql, row.type, version)
    yield* Metric.incrementBy(move === "pause" ? Metrics.circuitJobsPaused : Metrics.circuitJobsResumed, moved)
    return moved
  })

const releaseProbes = (sql: SqlClient.SqlClient, row: Row, version: string) =>
  Effect.map(
    CircuitSql.releaseProbes(sql, { type: row.type, version, limit: row.probes }),
    (rows) => rows[0]?.released ?? 0
  )

/** The transition statement moved the circuit (it was still at the version it was decided on). */
const applied = (row: { readonly version: string | null } | undefined): row is { readonly version: string } =>
  row !== undefined && row.version !== null

/** Decides and carries out one circuit's transition. */
const drive = (sql: SqlClient.SqlClient, row: Row, limit: number) =>
  Effect.gen(function*() {
    const step = { type: row.type, paused: 0, resumed: 0, probes: 0 }
    // A move a transition left unfinished (its leader died, or a batch failed) comes first.
    if (row.pendingMove === "pause") step.paused += yield* finishMove(sql, row, row.version, "pause", limit)
    if (row.pendingMove === "resume") step.resumed += yield* finishMove(sql, row, row.version, "resume", limit)

    const settings = settingsOf(row)
    const state = stateOf(row)
    const now = row.now.getTime()
    const transition = Circuit.decide(settings, state, { now, buckets: bucketsOf(row), controlled: row.controlled })
    const done = (applied: boolean) => ({ ...step, transition: applied ? transition._tag : "Stay" } satisfies Step)
    const input = (next: Circuit.State, move: "pause" | "resume" | null) => ({
      type: row.type,
      version: row.version,
      next: columnsOf(next, row, move)
    })
    switch (transition._tag) {
      case "Stay":
        return done(true)
      case "Open": {
        const [moved] = yield* CircuitSql.open(sql, {
          ...input(Circuit.next(state, transition, now), "pause"),
          attempts: transition.counts.attempts,
          failures: transition.counts.failures,
          windowMs: settings.windowMs
        })
        if (!applied(moved)) return done(false)
        step.paused += yield* finishMove(sql, row, moved.version, "pause", limit)
        yield* Effect.logWarning(
          `redrive circuit breaker: ${row.type} ${transition.reopens === 0 ? "opened" : "re-opened"} — ` +
            `${transition.counts.failures} of ${transition.counts.attempts} attempts failed with ${settings.tripOn.join("/")}` +
            `${transition.reopens === 0 ? ` in ${Duration.format(Duration.millis(settings.windowMs))}` : " while probing"}; ` +
            `${step.paused} waiting jobs paused, probes in ${Duration.format(Duration.millis(transition.cooldownMs))}`
        )
        break
      }
      case "HalfOpen": {
        const [moved] = yield* CircuitSql.halfOpen(sql, input(Circuit.next(state, transition, now), "pause"))
        if (!applied(moved)) return done(false)
        // Jobs that slipped back to available while it was open wait again; the probes follow
        // from the next whole second (Circuit.probeStart).
        step.paused += yield* finishMove(sql, row, moved.version, "pause", limit)
        yield* Effect.logInfo(`redrive circuit breaker: ${row.type} half-open — ${row.probes} probes to run`)
        break
      }
      case "ReleaseProbes": {
        step.probes = yield* releaseProbes(sql, row, row.version)
        // Nothing waiting (or not due yet): it asks again on the next pass.
        if (step.probes === 0) return done(false)
        yield* Effect.logInfo(`redrive circuit breaker: ${row.type} — ${step.probes} probe jobs released`)
        break
      }
      case "Close": {
        const [moved] = yield* CircuitSql.close(sql, {
          ...input(Circuit.next(state, transition, now), "resume"),
          reason: transition.reason
        })
        if (!applied(moved)) return done(false)
        step.resumed += yield* finishMove(sql, row, moved.version, "resume", limit)
        yield* Effect.logInfo(
          `redrive circuit breaker: ${row.type} closed (${
            transition.reason === "operator_resumed" ? "an operator resumed it" : "the probes succeeded"
          }) — ${step.resumed} waiting jobs resumed`
        )
        break
      }
    }
    yield* Metric.increment(transitions(transition._tag))
    return done(true)
  })

/** One pass over every circuit; returns what it did to each. */
export const runOnce = (options: CircuitBreakerOptions = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const limit = options.batchSize ?? 10_000
    const rows = yield* Effect.flatMap(CircuitSql.readAll(sql), decodeRows)
    const steps: Array<Step> = []
    for (const row of rows) {
      // One circuit's failure (logged) does not hold up the others; its next pass tries again.
      const step = yield* drive(sql, row, limit).pipe(
        Effect.map(Option.some),
        Effect.catchAllCause((cause) =>
          Effect.logError(`redrive circuit breaker: ${row.type} failed`, cause).pipe(Effect.as(Option.none<Step>()))
        )
      )
      if (Option.isSome(step)) steps.push(step.value)
    }
    yield* CircuitSql.pruneCounts(sql)
    return steps
  }).pipe(Effect.mapError(DbError.fromSqlError("CircuitBreaker.runOnce")), Effect.withSpan("CircuitBreaker.runOnce"))

/** `runOnce` every `interval`, forever; a failed pass is logged, never fatal. */
export const task = (options: CircuitBreakerOptions = {}) =>
  runOnce(options).pipe(
    Effect.catchAllCause((cause) => Effect.logError("redrive circuit breaker: pass failed", cause)),
    Effect.repeat(Schedule.spaced(Duration.decode(options.interval ?? "1 second"))),
    Effect.asVoid
  )

/** Every circuit, as an operator sees it (read-only; any process may call it). */
export const list = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* Effect.flatMap(CircuitSql.readAll(sql), decodeRows)
  return rows.map((row): CircuitView => {
    const settings = settingsOf(row)
    const state = stateOf(row)
    const observation = { now: row.now.getTime(), buckets: bucketsOf(row) }
    return {
      type: row.type,
      state: row.state,
      settings,
      counts: state._tag === "Closed"
        ? Circuit.windowCounts(settings, state.countedFrom, observation)
        : state._tag === "HalfOpen"
        ? Circuit.probeCounts(state.since, observation)
        : { attempts: 0, failures: 0 },
      openedAt: row.openedAt,
      cooldownMs: row.openCooldownMs,
      reopens: row.reopens,
      probeAt: row.halfOpenAt ??
        (row.openedAt !== null && row.openCooldownMs !== null
          ? new Date(row.openedAt.getTime() + row.openCooldownMs)
          : null),
      probesReleased: row.probesReleased,
      paused: row.controlled,
      moving: row.pendingMove
    }
  })
}).pipe(Effect.mapError(DbError.fromSqlError("CircuitBreaker.list")), Effect.withSpan("CircuitBreaker.list"))
