/** Reads and writes of `redrive.job_dlq`: inspection pages, single inserts and replay stamps. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Config, ConfigError, Effect, FiberRef, Layer, Option, Redacted, Schema, String as Str } from "effect"
import * as Cursor from "./Cursor.js"
import { DeadLetterAlreadyReplayed, DeadLetterNotFound, fromSqlError, InvalidLimit } from "./DatabaseError.js"
import { DlqFilter, type DlqFilterInput } from "./DlqFilter.js"
import * as DlqFilterSql from "./DlqFilterSql.js"
import { DlqId, DlqIdInput, JobId } from "./Ids.js"
import * as Input from "./Input.js"
import { JobDlq } from "./JobDlq.js"
import { currentTenant } from "./Tenant.js"
import * as RawSql from "./RawSql.js"

export type JobDlqInsert = typeof JobDlq.insert.Type

export const PageRequest = Schema.Struct({
  limit: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 500)), { default: () => 50 }),
  /** The `nextCursor` of the previous page; absent or null for the first page. */
  cursor: Schema.optional(Schema.NullOr(Schema.String))
})
export type PageRequest = typeof PageRequest.Encoded

/**
 * Narrowings of an inspection page that a stored filter (bulk replay, purge) never carries: free
 * text in the reason, found by the trigram index of migration 0029 (when pg_trgm was available;
 * without it, by scanning the pending rows in the page's order until the page is full).
 */
export interface ListOptions {
  /** Case-insensitive substring of `error_reason`. */
  readonly reasonContains?: string | undefined
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Pass back to get the next page; null on the last page. */
  readonly nextCursor: string | null
}

export const MarkReplayed = Schema.Struct({
  id: DlqId,
  replayedBy: Schema.String,
  replayJobId: JobId
})
export type MarkReplayed = typeof MarkReplayed.Type

/** The published secret of the demo and tests: anyone can forge cursors signed with it. */
export const insecureCursorSecret = "redrive-cursor-v1"

/**
 * Signing key for cursors (REDRIVE_CURSOR_SECRET), required: cursors leave the process, and a
 * known key lets a client forge one. Every process serving one API must share it. At least 16
 * characters, and not the published demo secret.
 */
const isStrongSecret = (secret: Redacted.Redacted<string>) =>
  Redacted.value(secret).length >= 16 && Redacted.value(secret) !== insecureCursorSecret
const secretRule = "must be at least 16 characters and not the published demo secret"

export const cursorSecret = Config.redacted("REDRIVE_CURSOR_SECRET").pipe(
  Config.validate({ message: `REDRIVE_CURSOR_SECRET ${secretRule}`, validation: isStrongSecret })
)

/** REDRIVE_CURSOR_SECRET when set, otherwise the published demo secret: for the demo and tests only. */
export const insecureCursorSecretConfig = Config.redacted("REDRIVE_CURSOR_SECRET").pipe(
  Config.withDefault(Redacted.make(insecureCursorSecret))
)

const columns = [
  "id", "job_id", "tenant_id", "queue", "type", "payload", "priority", "max_attempts", "error_class", "error_reason",
  "attempts", "error_history", "fingerprint", "first_failed_at", "dlq_at", "replayed_at", "replayed_by",
  "replay_job_id", "replay_of", "request_id", "user_id"
]
const camelColumns = columns.map((c) => `${c} as "${Str.snakeToCamel(c)}"`).join(", ")

/** `%text%` for ilike, with the text's own wildcards and escape character matched literally. */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/** Rows of the page's order a reason search reads before it searches all pending rows. */
const reasonWalk = 1000

const decodeFilter = Input.decode(DlqFilter, "filter")
const decodeId = Input.decode(DlqIdInput, "id")

const make = (cursorKey: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const secret = Redacted.value(cursorKey)

    const insertOne = SqlSchema.single({
      Request: JobDlq.insert,
      Result: JobDlq,
      execute: (row) => sql`insert into redrive.job_dlq ${sql.insert(row)} returning *`
    })

    const findById = SqlSchema.findOne({
      Request: DlqId,
      Result: JobDlq,
      execute: (id) => sql`select * from redrive.job_dlq where id = ${id}`
    })

    const stampReplayed = SqlSchema.findOne({
      Request: MarkReplayed,
      Result: JobDlq,
      execute: (r) =>
        sql`update redrive.job_dlq set replayed_at = now(), replayed_by = ${r.replayedBy}, replay_job_id = ${r.replayJobId}
            where id = ${r.id} and replayed_at is null returning *`
    })

    const selectPage = SqlSchema.findAll({
      Request: Schema.Struct({
        filter: Schema.typeSchema(DlqFilter),
        reasonContains: Schema.NullOr(Schema.String),
        underRls: Schema.Boolean,
        after: Schema.NullOr(Schema.Struct({ at: Schema.DateFromSelf, id: Schema.Number })),
        limit: Schema.Number
      }),
      Result: JobDlq,
      execute: ({ after, filter, limit, reasonContains, underRls }) => {
        const clauses = [
          sql`replayed_at is null`,
          ...DlqFilterSql.clauses(sql, filter),
          ...(after !== null ? [sql`(dlq_at, id) < (${after.at}, ${after.id})`] : [])
        ]
        // Columns aliased in camelCase and the name transform skipped: renaming every key of every
        // row cost more than the query itself (the SQL of a page takes well under a millisecond).
        // Under row-level security no index can serve a reason search (ilike is not leakproof, so it
        // may only run after the tenant check): it walks the tenant's rows in the page's order, and
        // strpos keeps the planner on that walk (ilike's guess of ~1 row in 10,000 made it fetch and
        // sort every row of the tenant: 340 ms at 50,000 rows).
        if (reasonContains === null || underRls) {
          const matches = reasonContains === null ? [] : [sql`strpos(lower(error_reason), lower(${reasonContains})) > 0`]
          return RawSql.of(sql)`select ${sql.literal(camelColumns)} from redrive.job_dlq
                     where ${sql.and([...clauses, ...matches])} order by dlq_at desc, id desc limit ${limit}`
        }
        const pattern = containsPattern(reasonContains)
        // The planner cannot tell a common phrase from a rare one (it guesses ~1 row in 10,000 for
        // any ilike), so the statement decides at run time: the newest `reasonWalk` rows of the page's
        // order first, which fill the page when the phrase is common; only when they do not, the
        // trigram index of migration 0029 over all pending rows (a rare phrase: 1 in 1000 rows of
        // 1,000,000 took 23 ms a page by walking, ~5 ms this way).
        return RawSql.of(sql)`
          with walked as materialized (
            select id, dlq_at, error_reason from redrive.job_dlq
            where ${sql.and(clauses)} order by dlq_at desc, id desc limit ${reasonWalk}
          ), near as (
            select id from walked where error_reason ilike ${pattern} order by dlq_at desc, id desc limit ${limit}
          ), far as (
            select id from redrive.job_dlq
            where (select count(*) from walked) = ${reasonWalk} and (select count(*) from near) < ${limit}
              and ${sql.and([...clauses, sql`error_reason ilike ${pattern}`])}
            order by dlq_at desc, id desc limit ${limit}
          )
          select ${sql.literal(camelColumns)} from redrive.job_dlq
          where id in (select id from near union all select id from far)
          order by dlq_at desc, id desc limit ${limit}`
      }
    })

    /**
     * Unreplayed dead letters, newest first, one page at a time. Keyset pagination over
     * (dlq_at desc, id desc): rows inserted between fetches never shift or repeat a page.
     */
    const listPending = Effect.fn("JobDlqRepo.listPending")(function*(
      input: DlqFilterInput,
      page: PageRequest = {},
      options: ListOptions = {}
    ) {
      const filter = yield* decodeFilter(input)
      const reasonContains = options.reasonContains === undefined || options.reasonContains === ""
        ? null
        : options.reasonContains
      // The cursor is bound to everything that narrows the page, the reason text included.
      const bound = reasonContains === null ? filter : { ...filter, reasonContains }
      const limit = page.limit ?? 50
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        return yield* new InvalidLimit({ field: "limit", limit, message: `limit must be an integer in 1..500, got ${limit}` })
      }
      // A cursor is bound to the tenant it was issued to: another tenant cannot page with it.
      const tenant = Option.getOrNull(yield* FiberRef.get(currentTenant))
      const after = page.cursor === undefined || page.cursor === null
        ? null
        : yield* Cursor.decode(secret, page.cursor, bound, tenant)
      const rows = yield* selectPage({ filter, reasonContains, underRls: tenant !== null, after, limit: limit + 1 }).pipe(
        Effect.mapError(fromSqlError("JobDlqRepo.listPending"))
      )
      const items = rows.slice(0, limit)
      const last = items[items.length - 1]
      const nextCursor = rows.length > limit && last !== undefined
        ? Cursor.encode(secret, { at: last.dlqAt, id: last.id }, bound, tenant)
        : null
      return { items, nextCursor } satisfies Page<JobDlq>
    })

    /** Stamps a dead letter as replayed into `replayJobId`, once: a second stamp fails. */
    const markReplayed = Effect.fn("JobDlqRepo.markReplayed")(function*(request: MarkReplayed) {
      const updated = yield* stampReplayed(request).pipe(Effect.mapError(fromSqlError("JobDlqRepo.markReplayed")))
      if (Option.isSome(updated)) return updated.value
      const existing = yield* findById(request.id).pipe(Effect.mapError(fromSqlError("JobDlqRepo.markReplayed")))
      if (Option.isNone(existing)) return yield* new DeadLetterNotFound({ id: request.id })
      return yield* new DeadLetterAlreadyReplayed({ id: request.id, replayJobId: existing.value.replayJobId })
    })

    return {
      insert: (row: JobDlqInsert) =>
        insertOne(row).pipe(Effect.mapError(fromSqlError("JobDlqRepo.insert")), Effect.withSpan("JobDlqRepo.insert")),
      /** A dead letter by id (`3` or `"3"`), replayed or not. */
      get: (id: number | string) =>
        decodeId(id).pipe(
          Effect.flatMap((id) => Effect.mapError(findById(id), fromSqlError("JobDlqRepo.get"))),
          Effect.withSpan("JobDlqRepo.get")
        ),
      listPending,
      markReplayed
    } as const
  })

/**
 * `JobDlqRepo.Default` reads REDRIVE_CURSOR_SECRET and fails to build (a ConfigError naming it)
 * when it is missing, short or the published demo secret: the layer for anything that hands
 * cursors to clients.
 */
export class JobDlqRepo extends Effect.Service<JobDlqRepo>()("@redrive/database/JobDlqRepo", {
  effect: Effect.flatMap(cursorSecret, make)
}) {}

/** With a key given in code; it must pass the same checks as REDRIVE_CURSOR_SECRET (a ConfigError naming `cursorSecret`). */
export const layerWithSecret = (secret: Redacted.Redacted<string>) =>
  Layer.effect(
    JobDlqRepo,
    isStrongSecret(secret)
      ? Effect.map(make(secret), JobDlqRepo.make)
      : Effect.fail(ConfigError.InvalidData(["cursorSecret"], secretRule))
  )

/**
 * For the demo, tests and services that never page (their cursors never leave the process):
 * REDRIVE_CURSOR_SECRET if set, otherwise the published demo secret.
 */
export const layerInsecureDefault = Layer.effect(
  JobDlqRepo,
  Effect.flatMap(insecureCursorSecretConfig, make).pipe(Effect.map(JobDlqRepo.make))
)
