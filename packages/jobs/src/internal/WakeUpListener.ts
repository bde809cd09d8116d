/**
 * LISTEN on the wake-up channel, calling `onPayload` for each NOTIFY, on a connection that is
 * watched for death. sql-pg's `listen` stream neither fails nor ends when its dedicated
 * connection drops (the client's errors are swallowed), so after a Postgres restart a worker
 * would never hear a NOTIFY again and fall back to polling for good (found by the fault suite,
 * Outage.faults.test.ts). So the listener sends itself a probe NOTIFY every `probeInterval` over
 * the pool; when no probe has come back for three intervals, it fails, its connection is
 * released, and the caller listens anew.
 *
 * On the runtime's own pool (PgPool) the connection is a `pg` client of ours and `onPayload` is
 * called from the notification itself: a stream carried each NOTIFY through a mailbox, a tap, a
 * filter and a merge before the worker heard it (0.57 ms of an idle worker's ~2 ms from NOTIFY to
 * handler, measured on this machine). Elsewhere (a PgClient from another layer) sql-pg's stream
 * carries it.
 */
import { SqlError } from "@effect/sql/SqlError"
import type { PgClient } from "@effect/sql-pg"
import { PgPool } from "@redrive/database"
import { Deferred, Duration, Effect, Exit, Option, Schema, Stream } from "effect"
import Pg from "pg"

export class ListenerSilent extends Schema.TaggedError<ListenerSilent>()("Redrive/ListenerSilent", {
  message: Schema.String
}) {}

const probePrefix = "probe:"

export interface ListenOptions {
  readonly channel: string
  /** Makes this listener's probes its own. */
  readonly probeId: string
  readonly probeInterval: Duration.DurationInput
  /** Called with each payload of `channel` other than probes; it must not throw. */
  readonly onPayload: (payload: string) => void
}

/** Listens until the connection is lost: fails with ListenerSilent (or SqlError), never succeeds. */
export const run = (pg: PgClient.PgClient, options: ListenOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const interval = Duration.toMillis(Duration.decode(options.probeInterval))
    const probe = `${probePrefix}${options.probeId}`
    const clock = yield* Effect.clock
    let heard = clock.unsafeCurrentTimeMillis()
    const onMessage = (payload: string) => {
      if (payload === probe) heard = clock.unsafeCurrentTimeMillis()
      else if (!payload.startsWith(probePrefix)) options.onPayload(payload)
    }
    const pool = yield* Effect.serviceOption(PgPool.PgPool)
    const listening = Option.isSome(pool)
      ? direct(pool.value.pool, options.channel, onMessage)
      : pg.listen(options.channel).pipe(
        Stream.runForEach((payload) => Effect.sync(() => onMessage(payload))),
        Effect.zipRight(Effect.never)
      )
    const watchdog = Effect.gen(function*() {
      // A failed probe (the database is down) is only a probe not heard.
      yield* Effect.ignore(pg`select pg_notify(${options.channel}, ${probe})`)
      yield* Effect.sleep(Duration.millis(interval))
      const silentFor = clock.unsafeCurrentTimeMillis() - heard
      if (silentFor > 3 * interval) {
        return yield* new ListenerSilent({ message: `no probe NOTIFY heard for ${silentFor} ms` })
      }
    }).pipe(Effect.forever)
    return yield* Effect.raceFirst(listening, watchdog)
  }))

/**
 * LISTEN on a connection of its own (the pool's settings, outside the pool: it is held for good),
 * ended with the scope. Fails when the client reports an error or its connection ends.
 */
const direct = (pool: Pg.Pool, channel: string, onMessage: (payload: string) => void) =>
  Effect.gen(function*() {
    const lost = yield* Deferred.make<never, SqlError>()
    const onError = (cause: unknown) =>
      Deferred.unsafeDone(lost, Exit.fail(new SqlError({ cause, message: "LISTEN connection failed" })))
    const onEnd = () => Deferred.unsafeDone(lost, Exit.fail(new SqlError({ message: "LISTEN connection ended" })))
    const onNotification = (message: Pg.Notification) => {
      if (message.channel === channel && message.payload) onMessage(message.payload)
    }
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new Pg.Client(pool.options)
          client.on("error", onError)
          client.on("end", onEnd)
          client.on("notification", onNotification)
          try {
            await client.connect()
            await client.query(`LISTEN ${client.escapeIdentifier(channel)}`)
          } catch (error) {
            client.end().catch(() => {})
            throw error
          }
          return client
        },
        catch: (cause) => new SqlError({ cause, message: "Failed to listen" })
      }),
      (client) =>
        Effect.promise(() => {
          client.off("end", onEnd)
          client.off("notification", onNotification)
          return client.end().catch(() => {})
        }).pipe(Effect.timeoutOption(1000))
    )
    return yield* Deferred.await(lost)
  })
