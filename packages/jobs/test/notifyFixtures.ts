/** Listening for worker wake-ups in tests. */
import { PgClient } from "@effect/sql-pg"
import { Effect, Queue, Stream } from "effect"
import * as Notify from "../src/Notify.js"

/** Listens on the wake-up channel; returns once LISTEN is live (a probe NOTIFY came back). */
export const listenForWakeUps = Effect.gen(function*() {
  const pg = yield* PgClient.PgClient
  const received = yield* Queue.unbounded<string>()
  yield* pg.listen(Notify.channel).pipe(Stream.runForEach((p) => Queue.offer(received, p)), Effect.forkScoped)
  // LISTEN is issued asynchronously: probe until our own NOTIFY comes back.
  yield* pg`select pg_notify(${Notify.channel}, 'probe')`.pipe(
    Effect.zipRight(Queue.take(received).pipe(Effect.timeout("100 millis"))),
    Effect.retry({ times: 100 })
  )
  return received
})
