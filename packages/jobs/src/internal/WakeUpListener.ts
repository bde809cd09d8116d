/**
 * LISTEN on the wake-up channel that notices when its connection has died. sql-pg's `listen`
 * stream neither fails nor ends when its dedicated connection drops (the client's errors are
 * swallowed), so after a Postgres restart a worker would never hear a NOTIFY again and fall back
 * to polling for good (found by the fault suite, Outage.faults.test.ts). So the listener sends
 * itself a probe NOTIFY every `probeInterval` over the pool; when no probe has come back for
 * three intervals, the stream fails, its connection is released, and the caller listens anew.
 */
import type { PgClient } from "@effect/sql-pg"
import { Clock, Duration, Effect, Ref, Schema, Stream } from "effect"

export class ListenerSilent extends Schema.TaggedError<ListenerSilent>()("Redrive/ListenerSilent", {
  message: Schema.String
}) {}

const probePrefix = "probe:"

/** Payloads of `channel` other than probes, failing with ListenerSilent once the probes stop. */
export const listen = (pg: PgClient.PgClient, channel: string, probeId: string, probeInterval: Duration.DurationInput) =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const interval = Duration.toMillis(Duration.decode(probeInterval))
    const probe = `${probePrefix}${probeId}`
    const heard = yield* Ref.make(yield* Clock.currentTimeMillis)
    const payloads = pg.listen(channel).pipe(
      Stream.tap((payload) => payload === probe ? Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.set(heard, now)) : Effect.void),
      Stream.filter((payload) => !payload.startsWith(probePrefix))
    )
    const watchdog = Effect.gen(function*() {
      // A failed probe (the database is down) is only a probe not heard.
      yield* Effect.ignore(pg`select pg_notify(${channel}, ${probe})`)
      yield* Effect.sleep(Duration.millis(interval))
      const silentFor = (yield* Clock.currentTimeMillis) - (yield* Ref.get(heard))
      if (silentFor > 3 * interval) {
        return yield* new ListenerSilent({ message: `no probe NOTIFY heard for ${silentFor} ms` })
      }
    }).pipe(Effect.forever)
    return Stream.merge(payloads, Stream.fromEffect(watchdog), { haltStrategy: "either" })
  }))
