/**
 * Maintenance: the tasks that must run somewhere, once per database — the rescuer, the circuit
 * breaker, the pruner, the drain watcher, the alert dispatcher and evaluator, and the metrics
 * sampler, each with an option to turn it off here. Every process that runs a worker takes
 * part (Worker.layer includes this layer unless told not to), so a deployment cannot forget them.
 *
 * Exactly one process runs them at a time, elected as River elects its leader: the process that
 * holds a Postgres advisory lock, on a connection it keeps for as long as it leads, runs the
 * tasks; the others try again every `electionInterval`. Postgres frees the lock the moment the
 * leader's session ends (a SIGKILL, a crash), so another process takes over within one interval.
 *
 * A partition is the harder case: the leader's connection stays open on both sides while nothing
 * crosses it, and Postgres would keep the lock until TCP keepalives gave up (hours by default).
 * So the leader's session carries `idle_session_timeout` (`leaderTimeout`, at least 5 intervals):
 * the leader pings every interval, and a session silent for longer is ended by Postgres, which
 * frees the lock. The leader itself gives up first: a ping unanswered within half that time makes
 * it step down (its tasks stop) before Postgres can hand the lock to anyone else, so two
 * processes never run the tasks at once.
 * No cluster configuration is needed: N identical processes on one database elect one leader.
 * Cluster runners (ClusterRunner) take part in the same election; `layerCluster` is the
 * Singleton alternative for an application that wants it (never both on one database).
 */
import * as Singleton from "@effect/cluster/Singleton"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { Data, Duration, Effect, Layer, Metric, Schedule, Scope } from "effect"
import * as Alerts from "./alerts/Alerts.js"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as DrainWatcher from "./DrainWatcher.js"
import * as Metrics from "./Metrics.js"
import * as Pruner from "./Pruner.js"
import * as MetricsSampler from "./MetricsSampler.js"
import * as Rescuer from "./Rescuer.js"

export interface MaintenanceOptions {
  /** The rescuer's settings, or false to run none here. */
  readonly rescuer?: Rescuer.RescuerOptions | false
  /** The circuit breaker's settings (it acts only on types that opted in), or false to run none here. */
  readonly circuitBreaker?: CircuitBreaker.CircuitBreakerOptions | false
  /** Retention (Pruner.ts: per kind of row, defaults documented there), or false to prune nothing here. */
  readonly pruner?: Pruner.PrunerOptions | false
  /** The drain watcher's settings (it also finishes the job moves of pauses and resumes), or false. */
  readonly drainWatcher?: DrainWatcher.DrainWatcherOptions | false
  /** The alert dispatcher and evaluator (alerts/Alerts.ts), or false to run none here. */
  readonly alerts?: Alerts.AlertsOptions | false
  /** The gauge sampler's settings (queue depth, DLQ depth, paused scopes), or false to run none here. */
  readonly metrics?: MetricsSampler.MetricsSamplerOptions | false
  /** How often a follower tries to become the leader, and the leader checks its connection (default 2 s). */
  readonly electionInterval?: Duration.DurationInput
}

/**
 * How long a leader's session may stay silent before Postgres ends it and frees the lock: five
 * election intervals, at least 5 s (so a busy event loop does not cost the lead).
 */
export const leaderTimeout = (interval: Duration.Duration): Duration.Duration =>
  Duration.max(Duration.times(interval, 5), Duration.seconds(5))

/** Two-key advisory lock space shared with the migration runner (key 1); key 2 is the leader's. */
export const leaderLockKey = [0x5244_5256, 2] as const

/** The leader's connection stopped answering (a partition, a hung server). */
class LeaderSilent extends Data.TaggedError("LeaderSilent")<{ readonly message: string }> {}

const tryLock = (connection: Connection) =>
  Effect.map(
    connection.executeValues("select pg_try_advisory_lock($1, $2)", leaderLockKey),
    (rows) => rows[0]?.[0] === true
  )

/**
 * Every claim, settle and delete leaves dead tuples in the job table; autovacuum (aggressive on
 * that table, migration 0002) is what keeps claims fast. A server with it off cannot, so the
 * leader says so once per term instead of letting the queue slow down unexplained.
 */
const warnWithoutAutovacuum = (connection: Connection) =>
  connection.executeValues("select current_setting('autovacuum')", []).pipe(
    Effect.flatMap((rows) =>
      rows[0]?.[0] === "off"
        ? Effect.logWarning(
          "redrive maintenance: autovacuum is off on this server: the job table's dead tuples will only grow and " +
            "claims will slow down; turn autovacuum on (or VACUUM redrive.job regularly)"
        )
        : Effect.void
    ),
    Effect.ignore
  )

/** The maintenance tasks, forked for as long as their scope is open. */
const runTasks = (options: MaintenanceOptions) =>
  Effect.gen(function*() {
    if (options.rescuer !== false) yield* Effect.forkScoped(Rescuer.task(options.rescuer ?? {}))
    if (options.circuitBreaker !== false) yield* Effect.forkScoped(CircuitBreaker.task(options.circuitBreaker ?? {}))
    if (options.pruner !== false) yield* Effect.forkScoped(Pruner.task(options.pruner ?? {}))
    if (options.drainWatcher !== false) yield* Effect.forkScoped(DrainWatcher.task(options.drainWatcher ?? {}))
    if (options.alerts !== false) yield* Effect.forkScoped(Alerts.task(options.alerts ?? {}))
    if (options.metrics !== false) yield* Effect.forkScoped(MetricsSampler.task(options.metrics ?? {}))
  })

/**
 * One term: reserve a connection, try the lock; if it is ours, run the tasks until the
 * connection fails or stops answering, then step down — the scope of the term ends either way.
 * Statements on a silent connection are abandoned, not awaited (`Effect.disconnect`): the driver's
 * cancel would wait seconds more for an answer that cannot come.
 */
const term = (options: MaintenanceOptions, interval: Duration.Duration) =>
  Effect.scoped(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const connection = yield* sql.reserve
    const leading = yield* tryLock(connection)
    if (!leading) return false
    const silence = leaderTimeout(interval)
    const pingTimeout = Duration.unsafeDivide(silence, 2)
    yield* Effect.addFinalizer(() =>
      Metric.set(Metrics.maintenanceLeader, 0).pipe(
        Effect.zipRight(connection.executeRaw(
          "select pg_advisory_unlock($1, $2), set_config('idle_session_timeout', '0', false)",
          leaderLockKey
        ).pipe(Effect.disconnect)),
        // A partitioned connection never answers; Postgres ends that session and frees the lock itself.
        Effect.timeout(pingTimeout),
        Effect.ignore
      )
    )
    const lead = Effect.gen(function*() {
      yield* connection.executeRaw("select set_config('idle_session_timeout', $1, false)", [
        `${Duration.toMillis(silence)}ms`
      ])
      yield* Metric.set(Metrics.maintenanceLeader, 1)
      yield* Effect.logInfo("redrive maintenance: this process leads (runs the maintenance tasks)")
      yield* warnWithoutAutovacuum(connection)
      yield* runTasks(options)
      // Lead while the connection (and so the lock) answers.
      yield* connection.executeRaw("select 1", []).pipe(
        Effect.disconnect,
        Effect.timeoutFail({
          duration: pingTimeout,
          onTimeout: () => new LeaderSilent({ message: `no answer within ${Duration.format(pingTimeout)}` })
        }),
        Effect.repeat(Schedule.spaced(interval))
      )
    })
    // Logged before the tasks are stopped: from here on this process starts no maintenance work.
    yield* Effect.catchAllCause(lead, (cause) =>
      Effect.logWarning("redrive maintenance: lost the leader's connection, stepping down", cause)
    )
    return true
  })).pipe(
    Effect.catchAllCause((cause) =>
      Effect.logDebug("redrive maintenance: could not take part in this election round", cause).pipe(Effect.as(false))
    )
  )

/** Takes part in the election for as long as the scope lives; never fails. */
export const make = (options: MaintenanceOptions = {}): Effect.Effect<void, never, SqlClient.SqlClient | Scope.Scope> => {
  const interval = Duration.decode(options.electionInterval ?? "2 seconds")
  return term(options, interval).pipe(
    Effect.repeat(Schedule.spaced(interval)),
    Effect.asVoid,
    Effect.forkScoped,
    Effect.asVoid
  )
}

/** Maintenance as a layer (Worker.layer includes it); for a process that runs no worker. */
export const layer = (options: MaintenanceOptions = {}) => Layer.scopedDiscard(make(options))

/**
 * The same tasks as an @effect/cluster Singleton, run by the runner that owns its shard and moved
 * when that runner dies (give the workers `maintenance: false` there). Redrive's own cluster mode
 * (ClusterRunner, `--cluster`) keeps the election instead (ARCHITECTURE.md says why); never run
 * both on one database: that would be two leaders. A singleton whose effect ends is not
 * restarted, so the tasks never end: each one logs and goes on.
 */
export const layerCluster = (options: Omit<MaintenanceOptions, "electionInterval"> = {}) =>
  Singleton.make(
    "redrive/maintenance",
    Effect.scoped(
      Effect.logInfo("redrive maintenance: this runner leads (runs the maintenance tasks)").pipe(
        Effect.zipRight(Metric.set(Metrics.maintenanceLeader, 1)),
        Effect.zipRight(runTasks(options)),
        Effect.zipRight(Effect.never),
        Effect.ensuring(Metric.set(Metrics.maintenanceLeader, 0))
      )
    )
  )
