/**
 * The Effect floor of the peers benchmark: the smallest queue we could write on the stack Redrive
 * is built on (`effect`, `@effect/sql-pg`, a ManagedRuntime), doing what the harness's raw-`pg`
 * reference does: a batched `skip locked` claim, one settle statement per batch (delete the
 * successes, retry the failures at once, move the exhausted ones to a dead-letter table with their
 * error history), LISTEN/NOTIFY wake-ups. No tenants, leases renewed, maintenance, spans, metrics,
 * classification, controls or typed rows: only what the stack costs.
 *
 * Against the reference it measures the price of the stack; against Redrive, the price of
 * Redrive's features on top of it (issue 16). Its SQL is its own, written for the same work as
 * the reference's. Bundled by `pnpm bench:build` into dist/effect-floor.mjs, loaded by
 * bench/floor-adapter.mjs.
 */
import { PgClient } from "@effect/sql-pg"
import { type Handler, runHandler } from "./harnessHandler.js"
import { Cause, Deferred, Effect, Exit, Fiber, ManagedRuntime, Redacted, Schedule, Stream } from "effect"

export interface FloorSettings {
  /** Concurrent claim loops in the worker. */
  readonly loops: number
  /** Rows per claim. */
  readonly batch: number
  readonly pollMs: number
}

export interface FloorContext {
  readonly databaseUrl: string
  readonly settings: FloorSettings
  readonly maxAttempts: number
}

const channel = "floor_job"

interface Claimed {
  readonly id: string
  readonly payload: unknown
}

export const open = async (ctx: FloorContext) => {
  const { settings, maxAttempts } = ctx
  const runtime = ManagedRuntime.make(
    PgClient.layer({ url: Redacted.make(ctx.databaseUrl), maxConnections: settings.loops + 2 })
  )
  const run = <A, E>(effect: Effect.Effect<A, E, PgClient.PgClient>) => runtime.runPromise(effect)

  await run(Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    yield* sql`create table if not exists floor_job (
      id bigserial primary key,
      payload jsonb not null,
      run_at timestamptz not null default now(),
      attempt int not null default 0,
      max_attempts int not null,
      leased_until timestamptz,
      history jsonb not null default '[]'
    )`
    yield* sql`create index if not exists floor_job_due on floor_job (run_at, id) where leased_until is null`
    yield* sql`create table if not exists floor_dlq (
      id bigserial primary key,
      job_id bigint not null,
      payload jsonb not null,
      attempt int not null,
      history jsonb not null,
      dead_at timestamptz not null default now()
    )`
  }))

  let worker: Fiber.RuntimeFiber<void, unknown> | undefined

  /** One claim loop: claim, run each handler as an Effect, settle the batch in one statement. */
  const loop = (handler: Handler, wakeUp: Effect.Effect<void>) =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      while (true) {
        const rows = yield* sql<Claimed>`
          update floor_job j set leased_until = now() + interval '30 seconds', attempt = j.attempt + 1
          where j.id in (
            select id from floor_job where leased_until is null and run_at <= now()
            order by run_at, id limit ${settings.batch}
            for update skip locked)
          returning j.id, j.payload`
        if (rows.length === 0) {
          yield* Effect.timeout(wakeUp, settings.pollMs).pipe(Effect.ignore)
          continue
        }
        const ok: Array<string> = []
        const failed: Array<string> = []
        const messages: Array<string> = []
        for (const row of rows) {
          const exit = yield* Effect.exit(runHandler(handler, row.payload))
          if (Exit.isSuccess(exit)) ok.push(row.id)
          else {
            failed.push(row.id)
            const error = Cause.squash(exit.cause)
            messages.push(error instanceof Error ? error.message : String(error))
          }
        }
        yield* sql`
          with succeeded as (
            delete from floor_job where id = any(${ok}::bigint[])
          ), failures as (
            select f.id, f.message from unnest(${failed}::bigint[], ${messages}::text[]) as f(id, message)
          ), entries as (
            select j.id, j.payload, j.attempt, j.max_attempts,
              j.history || jsonb_build_array(jsonb_build_object('attempt', j.attempt, 'message', f.message, 'at', now())) as history
            from floor_job j join failures f on f.id = j.id
          ), exhausted as (
            delete from floor_job j using entries e where j.id = e.id and e.attempt >= e.max_attempts
            returning e.id, e.payload, e.attempt, e.history
          ), dead as (
            insert into floor_dlq (job_id, payload, attempt, history)
            select id, payload, attempt, history from exhausted
          ), retried as (
            update floor_job j set leased_until = null, run_at = now(), history = e.history
            from entries e where j.id = e.id and e.attempt < e.max_attempts
          )
          select 1`
      }
    })

  return {
    async enqueueBatch(payloads: ReadonlyArray<unknown>) {
      await run(Effect.flatMap(PgClient.PgClient, (sql) =>
        sql`insert into floor_job (payload, max_attempts)
            select e, ${maxAttempts} from jsonb_array_elements(${JSON.stringify(payloads)}::jsonb) e`))
    },
    async enqueueOne(payload: unknown) {
      await run(Effect.flatMap(PgClient.PgClient, (sql) =>
        sql`with job as (
              insert into floor_job (payload, max_attempts) values (${JSON.stringify(payload)}::jsonb, ${maxAttempts})
              returning id
            )
            select pg_notify(${channel}, 'job') from job`))
    },
    async startWorker(handler: Handler) {
      // Started once LISTEN is in place, as the harness requires.
      let resolveStarted = () => {}
      const started = new Promise<void>((resolve) => (resolveStarted = resolve))
      worker = runtime.runFork(Effect.scoped(Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const latch = yield* Effect.makeLatch(false)
        const listening = yield* Deferred.make<void>()
        yield* sql.listen(channel).pipe(
          Stream.runForEach(() => Effect.zipRight(Deferred.succeed(listening, undefined), latch.release)),
          Effect.forkScoped
        )
        // LISTEN is in place once a notification comes back through the listener. (PgClient's
        // `notify` sends `NOTIFY channel, $1`, which Postgres refuses: NOTIFY takes no parameters.)
        yield* sql`select pg_notify(${channel}, 'probe')`.pipe(
          Effect.zipRight(Deferred.await(listening).pipe(Effect.timeoutFail({ duration: 100, onTimeout: () => "not yet" }))),
          Effect.retry(Schedule.recurs(100))
        )
        resolveStarted()
        yield* Effect.all(
          Array.from({ length: settings.loops }, () => loop(handler, latch.await)),
          { concurrency: "unbounded", discard: true }
        )
      })))
      const ended = runtime.runPromise(Fiber.await(worker)).then((exit) => {
        throw new Error(`effect floor: the worker ended: ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "done"}`)
      })
      await Promise.race([started, ended])
    },
    async stop() {
      if (worker !== undefined) await runtime.runPromise(Fiber.interrupt(worker))
      await runtime.dispose()
    },
    async replayFailed() {
      const [row] = await run(Effect.flatMap(PgClient.PgClient, (sql) =>
        Effect.tap(
          sql<{ readonly n: number }>`
            with moved as (delete from floor_dlq returning payload),
            queued as (insert into floor_job (payload, max_attempts) select payload, ${maxAttempts} from moved returning 1)
            select count(*)::int as n from queued`,
          () => sql`select pg_notify(${channel}, 'replay')`
        )))
      return row?.n ?? 0
    },
    async countTerminal() {
      const [row] = await run(Effect.flatMap(PgClient.PgClient, (sql) =>
        sql<{ readonly pending: number; readonly dead: number }>`
          select (select count(*) from floor_job)::int as pending, (select count(*) from floor_dlq)::int as dead`))
      return { pending: row?.pending ?? 0, failed: row?.dead ?? 0, completed: null, deadLettered: row?.dead ?? 0 }
    }
  }
}
