/**
 * Wake-ups for workers: a NOTIFY on one channel whose payload is the queue that has new work.
 * Sent with `select pg_notify(...)` (sql-pg's notify helper sends invalid SQL on this version);
 * inside a transaction it is delivered at COMMIT.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const channel = "redrive_jobs"

/** Wakes the workers of these queues (one statement, whatever the number of queues). */
export const queues = (queues: ReadonlyArray<string>) =>
  queues.length === 0
    ? Effect.void
    : Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.asVoid(sql`select pg_notify(${channel}, q) from unnest(${[...new Set(queues)]}::text[]) as q`))
