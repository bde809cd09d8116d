/**
 * The fault suite's shared parts: the worker process it spawns (one helper, so a runner process
 * can take its place), the tables it counts with, and the checks every scenario ends with.
 */
import { AdminClient, Scratch } from "@redrive/database/testing"
import { Duration, Effect, type Redacted, Schedule } from "effect"
import { fileURLToPath } from "node:url"
import { spawnScript } from "../processFixtures.js"

const faultWorkerScript = fileURLToPath(new URL("../fixtures/faultWorker.ts", import.meta.url))

/**
 * The process under test (connected as `url`, the runtime role's): fixtures/faultWorker.ts
 * (FAULT_* env), a cluster runner on a free port unless FAULT_CLUSTER=0; SIGKILLed when the
 * scope closes.
 */
export const spawnFaultWorker = (url: Redacted.Redacted, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const runner = env["FAULT_CLUSTER"] === "0" ? {} : { FAULT_RUNNER_PORT: String(yield* Scratch.freePort) }
    const p = yield* spawnScript(faultWorkerScript, url, { ...runner, ...env })
    yield* p.waitFor(/fault worker ready/, 120_000)
    return p
  })

export const queue = "q-fault"

export const query = (url: Redacted.Redacted, text: string) => AdminClient.adminQuery(url, text)

export const scalar = (url: Redacted.Redacted, text: string) =>
  Effect.map(query(url, text), (rows) => Number(Object.values(rows[0] ?? {})[0] ?? Number.NaN))

/** Polls `text` (one number) until `done` holds, at most `timeout`. */
export const until = (
  url: Redacted.Redacted,
  text: string,
  done: (n: number) => boolean,
  timeout: Duration.DurationInput,
  every: Duration.DurationInput = "200 millis"
) =>
  scalar(url, text).pipe(
    Effect.filterOrFail(done, (n) => `not yet (${n})` as const),
    Effect.retry(Schedule.spaced(every)),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`${text}: condition not met within ${Duration.format(Duration.decode(timeout))}`)
    })
  )

/**
 * `fault_run`: one row per run, inserted by the handler first thing. `fault_settle`: one row per
 * job that left 'running' for good (deleted by its settle, or marked completed), written by a
 * trigger inside the settle's own statement — two rows for one job would be a double completion.
 * `url` is the administrator's; the workers connect as the runtime role.
 */
export const createFaultTables = (url: Redacted.Redacted) =>
  query(
    url,
    `create table public.fault_run (job_id bigint not null, n int not null, pid int not null, attempt int not null,
       at timestamptz not null default clock_timestamp());
     create table public.fault_settle (job_id bigint not null, locked_by text, at timestamptz not null default clock_timestamp());
     grant select, insert on public.fault_run to redrive_runtime;
     -- security definer: the runtime role settles, the trigger writes where only the test reads.
     create function public.fault_settled() returns trigger language plpgsql security definer as $$
       begin insert into public.fault_settle (job_id, locked_by) values (old.id, old.locked_by); return null; end $$;
     create trigger fault_settled_delete after delete on redrive.job
       for each row when (old.state = 'running') execute function public.fault_settled();
     create trigger fault_settled_complete after update on redrive.job
       for each row when (old.state = 'running' and new.state = 'completed') execute function public.fault_settled();`
  )

/** Enqueues jobs n = from … from+count-1 in one statement and wakes the workers (as Enqueue does). */
export const enqueue = (url: Redacted.Redacted, from: number, count: number) =>
  query(
    url,
    `insert into redrive.job (queue, type, payload, max_attempts)
       select '${queue}', 'fault.job', jsonb_build_object('n', g), 5 from generate_series(${from}, ${from + count - 1}) g;
     select pg_notify('redrive_jobs', '${queue}')`
  )

/** How many of jobs 0 … jobs-1 fail once (n a multiple of 10, as fixtures/faultWorker.ts decides). */
export const failingOnce = (jobs: number) => (jobs <= 0 ? 0 : Math.floor((jobs - 1) / 10) + 1)

export interface Outcome {
  readonly jobs: number
  /** Job rows not completed (deleted, or 'completed' when kept). */
  readonly unfinished: number
  readonly deadLettered: number
  /** Payloads that never ran. */
  readonly neverRan: number
  /**
   * 10 % jobs that ran again at a later attempt than 1, as their policy says (after failing at 1,
   * or after a rescue took attempt 1 from a killed worker before its run was recorded).
   */
  readonly retriedAsPolicy: number
  /** Jobs with more runs than their policy gives them (1, or 2 for the 10 %), and their pids. */
  readonly ranTwice: ReadonlyArray<{ readonly n: number; readonly extra: number; readonly pids: ReadonlyArray<number> }>
  /** Jobs with more than one settle (none is the claim). */
  readonly settledTwice: number
  readonly settles: number
}

/** What the database says happened to jobs 0 … jobs-1. */
export const outcome = (url: Redacted.Redacted, jobs: number) =>
  Effect.gen(function*() {
    const unfinished = yield* scalar(url, `select count(*) from redrive.job where queue = '${queue}' and state <> 'completed'`)
    const deadLettered = yield* scalar(url, `select count(*) from redrive.job_dlq where queue = '${queue}'`)
    const neverRan = jobs - (yield* scalar(url, `select count(distinct n) from public.fault_run`))
    const retriedAsPolicy = yield* scalar(
      url,
      `select count(*) from (select n from public.fault_run where n % 10 = 0 group by n
         having max(attempt) >= 2) r`
    )
    const rows = yield* query(
      url,
      `select n, count(*) - case when n % 10 = 0 then 2 else 1 end as extra, array_agg(distinct pid) as pids
       from public.fault_run group by n having count(*) > case when n % 10 = 0 then 2 else 1 end order by n`
    )
    const ranTwice = rows.map((r) => ({
      n: Number(r["n"]),
      extra: Number(r["extra"]),
      pids: Array.isArray(r["pids"]) ? r["pids"].map(Number) : []
    }))
    const settledTwice = yield* scalar(
      url,
      `select count(*) from (select job_id from public.fault_settle group by job_id having count(*) > 1) s`
    )
    const settles = yield* scalar(url, `select count(*) from public.fault_settle`)
    return { jobs, unfinished, deadLettered, neverRan, retriedAsPolicy, ranTwice, settledTwice, settles } satisfies Outcome
  })

/**
 * When each line of `output` matching `pattern` was logged, in ms since the epoch. Effect's
 * pretty logger stamps local wall-clock time of day (`[18:02:15.565]`): today's date is assumed,
 * which holds for a test that runs minutes, not across midnight.
 */
export const loggedAt = (output: string, pattern: RegExp): ReadonlyArray<number> =>
  output.split("\n").flatMap((line) => {
    const at = pattern.test(line) ? /^\[(\d\d):(\d\d):(\d\d)\.(\d\d\d)\]/.exec(line) : null
    if (at === null) return []
    const day = new Date()
    day.setHours(Number(at[1]), Number(at[2]), Number(at[3]), Number(at[4]))
    return [day.getTime()]
  })

export const leads = /this process leads/
export const stepsDown = /stepping down/
