/**
 * What test runs leave on a server, and when it is safe to drop it. The server may be shared:
 * other projects' suites (with templates of their own migrations), concurrent runs of this one,
 * runs on other machines. So a database is dropped only when three things hold:
 *
 *   1. by its name, it is Redrive's test database: `redrive_tpl_*` (templates),
 *      `redrive_tplbuild_*` (templates being built), `redrive_test_*` / `redrive_empty_*` (per file);
 *   2. nobody uses it: a template not marked used for `staleAfter` (every setup that uses one
 *      marks it, so a suite that runs daily keeps its template); a scratch database whose creator
 *      is known dead (same machine, pid gone) and that is older than `orphanAfter`, or that is
 *      older than `staleAfter` whoever made it (no test file runs for a day);
 *   3. nobody is connected to it: such databases are skipped, and `drop database` without FORCE
 *      refuses anyway when someone connected meanwhile (that failure is ignored).
 *
 * Templates and marks are read and changed under an advisory lock (see `withLock`), so a setup
 * that is about to clone a stale template marks it before another setup's cleanup can drop it.
 */
import { Duration, Effect } from "effect"
import { createHash } from "node:crypto"
import { hostname } from "node:os"
import { type AdminSession, quoteIdent, quoteLiteral } from "./AdminClient.js"

export interface CleanupOptions {
  /** A template unused this long, or a scratch database this old, is dropped. Default 24 hours. */
  readonly staleAfter?: Duration.DurationInput
  /** A scratch database of a dead process on this machine, this old, is dropped. Default 10 minutes. */
  readonly orphanAfter?: Duration.DurationInput
}

export const templatePrefix = "redrive_tpl_"

/** This machine, in scratch database names: a pid means something only on the machine it ran on. */
export const hostTag = createHash("sha256").update(hostname()).digest("hex").slice(0, 6)

/**
 * A scratch database name (per-file databases, templates being built) that says who made it
 * and when: `<prefix>_<host>_<pid>_<ms base 36>_<random>`, at most 63 characters.
 */
export const scratchName = (prefix: string, now = Date.now(), pid = process.pid, host = hostTag) =>
  `${prefix}_${host}_${pid}_${now.toString(36)}_${Math.random().toString(36).slice(2, 8)}`

const scratchPattern = /^redrive_(?:test|empty|tplbuild)_([0-9a-f]{6})_(\d+)_([0-9a-z]+)_[0-9a-z]+$/
/** Half-built templates from before names carried the host. */
const legacyBuildPattern = /^redrive_tplbuild_(\d+)_([0-9a-z]+)$/
const templatePattern = /^redrive_tpl_[0-9a-f]+$/

/** The mark a setup leaves on the template it uses (`comment on database`). */
export const usedMark = (at: Date) => `redrive test template, last used ${at.toISOString()}`
const markPattern = /^redrive test template, last used (\S+)$/

export const lastUsed = (comment: string | null): Date | undefined => {
  const match = comment === null ? null : markPattern.exec(comment)
  if (!match) return undefined
  const at = new Date(match[1]!)
  return Number.isNaN(at.getTime()) ? undefined : at
}

/** Whether a process of this machine is running; when unsure, it is. */
export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return !(typeof e === "object" && e !== null && "code" in e && e.code === "ESRCH")
  }
}

export interface DatabaseRow {
  readonly name: string
  readonly comment: string | null
  readonly connections: number
}

export interface Decision {
  readonly drop: ReadonlyArray<{ readonly name: string; readonly reason: string }>
  /** Templates without a mark (built before marks existed): marked now, so dropped a day later if unused. */
  readonly mark: ReadonlyArray<string>
}

/** Which of the server's databases to drop or mark; pure, for tests. */
export const decide = (
  rows: ReadonlyArray<DatabaseRow>,
  context: {
    readonly now: Date
    readonly staleAfter: Duration.Duration
    readonly orphanAfter: Duration.Duration
    readonly host: string
    readonly isAlive: (pid: number) => boolean
    /** Never dropped: the template this setup uses. */
    readonly keep: ReadonlySet<string>
  }
): Decision => {
  const drop: Array<{ name: string; reason: string }> = []
  const mark: Array<string> = []
  const age = (at: number) => context.now.getTime() - at
  const stale = Duration.toMillis(context.staleAfter)
  const orphan = Duration.toMillis(context.orphanAfter)
  for (const row of rows) {
    if (context.keep.has(row.name) || row.connections > 0) continue
    if (templatePattern.test(row.name)) {
      const used = lastUsed(row.comment)
      if (used === undefined) mark.push(row.name)
      else if (age(used.getTime()) > stale) drop.push({ name: row.name, reason: `template unused since ${used.toISOString()}` })
      continue
    }
    const scratch = scratchPattern.exec(row.name)
    if (scratch) {
      const [, host, pid, created] = scratch
      const old = age(parseInt(created!, 36))
      if (old > stale) drop.push({ name: row.name, reason: "older than staleAfter" })
      else if (host === context.host && old > orphan && !context.isAlive(Number(pid))) {
        drop.push({ name: row.name, reason: `its process ${pid} is gone` })
      }
      continue
    }
    // Built by an older version: no host in the name, so only its age counts.
    const legacy = legacyBuildPattern.exec(row.name)
    if (legacy && age(parseInt(legacy[2]!, 36)) > stale) drop.push({ name: row.name, reason: "older than staleAfter" })
    // Per-file databases of older versions (`redrive_test_<pid>_<random>`) carry no age: left alone.
  }
  return { drop, mark }
}

/**
 * The test setup's key in Redrive's two-key advisory lock space: the migration runner holds
 * [0x52445256, 1], maintenance's leader 2 (for as long as it leads) and a starting cluster runner
 * 3; sharing one of them, a Redrive service running on the admin database would block test setup.
 */
export const lockKey = [0x5244_5256, 4] as const

/**
 * Runs `effect` holding the setup lock on the session's database (advisory locks are per
 * database: setups that share a server and an administrator database exclude each other).
 */
export const withLock = <A, E, R>(session: AdminSession, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    session.query("select pg_advisory_lock($1, $2)", lockKey),
    () => effect,
    () => Effect.ignore(session.query("select pg_advisory_unlock($1, $2)", lockKey))
  )

/** Marks a template used now (by the server's clock). Call it holding the lock. */
export const markUsed = (session: AdminSession, name: string) =>
  Effect.gen(function*() {
    const [row] = yield* session.query("select now() as now")
    const now = row?.["now"]
    if (!(now instanceof Date)) return
    yield* session.query(`comment on database ${quoteIdent(name)} is ${quoteLiteral(usedMark(now))}`)
  })

/**
 * Drops what `decide` finds, returning the names dropped. Call it holding the lock. Failures to
 * drop (someone connected meanwhile, another setup dropped it first) are ignored.
 */
export const run = (
  session: AdminSession,
  options: CleanupOptions & { readonly keep?: ReadonlyArray<string> } = {}
) =>
  Effect.gen(function*() {
    const rows = yield* session.query(`
      select d.datname as name, shobj_description(d.oid, 'pg_database') as comment,
             (select count(*)::int from pg_stat_activity a where a.datid = d.oid) as connections,
             now() as now
      from pg_database d
      where d.datname like 'redrive\\_%' and not d.datistemplate`)
    const now = rows[0]?.["now"]
    if (!(now instanceof Date)) return []
    const decision = decide(
      rows.map((r) => ({
        name: String(r["name"]),
        comment: typeof r["comment"] === "string" ? r["comment"] : null,
        connections: Number(r["connections"])
      })),
      {
        now,
        staleAfter: Duration.decode(options.staleAfter ?? "24 hours"),
        orphanAfter: Duration.decode(options.orphanAfter ?? "10 minutes"),
        host: hostTag,
        isAlive,
        keep: new Set(options.keep ?? [])
      }
    )
    for (const name of decision.mark) {
      yield* Effect.ignore(session.query(`comment on database ${quoteIdent(name)} is ${quoteLiteral(usedMark(now))}`))
    }
    const dropped: Array<string> = []
    for (const { name } of decision.drop) {
      const done = yield* Effect.either(session.query(`drop database if exists ${quoteIdent(name)}`))
      if (done._tag === "Right") dropped.push(name)
    }
    return dropped as ReadonlyArray<string>
  })
