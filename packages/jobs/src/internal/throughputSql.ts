/** The statements of `redrive.throughput_stat` (migration 0028): completed jobs per minute. */
import type { SqlClient } from "@effect/sql/SqlClient"
import { RawSql } from "@redrive/database"

/**
 * Adds a worker's counts, each with its age (ms before the flush): the database files a count
 * under the minute of its own clock, so workers' clocks never decide a bucket.
 */
export const flushCompleted = (
  sql: SqlClient,
  c: {
    readonly tenants: ReadonlyArray<string>
    readonly queues: ReadonlyArray<string>
    readonly ages: ReadonlyArray<number>
    readonly completed: ReadonlyArray<number>
  }
) =>
  RawSql.of(sql)`
    insert into redrive.throughput_stat as s (tenant_id, queue, bucket, completed)
    select u.t, u.q, date_trunc('minute', now() - u.age * interval '1 millisecond'), sum(u.n)
    from unnest(${c.tenants}::text[], ${c.queues}::text[], ${c.ages}::int[], ${c.completed}::int[]) as u(t, q, age, n)
    group by 1, 2, 3
    -- a fixed order, so two workers never lock the same buckets in opposite orders
    order by 1, 2, 3
    on conflict (tenant_id, queue, bucket) do update set completed = s.completed + excluded.completed`
