/**
 * The test setup as a service uses it (`globalSetup({ migrations })`): a template with Redrive's
 * tables and the service's, named apart from Redrive's, reused; and the cleanup of what earlier
 * runs left on the server. Every database made here has a random name and is dropped at the end.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { inject } from "vitest"
import { withDatabase } from "../src/DatabaseUrl.js"
import * as MigrationRunner from "../src/migrations/MigrationRunner.js"
import { AdminClient, Cleanup, prepare, Scratch, Template, TestDatabase } from "../src/testing/index.js"

const admin = Redacted.make(inject("redriveAdminUrl"))
const random = () => Math.random().toString(36).slice(2, 10)
const randomHex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("")

/** Databases the test makes, dropped (forcibly) when its scope closes. */
const dropAtEnd = (names: Array<string>) =>
  Effect.addFinalizer(() =>
    Effect.forEach(
      names,
      (name) =>
        Effect.ignore(
          AdminClient.adminQuery(admin, `drop database if exists ${AdminClient.quoteIdent(name)} with (force)`)
        ),
      { discard: true }
    )
  )

const databaseOid = (name: string) =>
  Effect.map(
    AdminClient.adminQuery(admin, `select oid::text as oid from pg_database where datname = '${name}'`),
    (rows) => rows[0]?.["oid"]
  )

/** The names of `names` that still exist. */
const existing = (names: ReadonlyArray<string>) =>
  Effect.map(
    AdminClient.adminQuery(
      admin,
      `select datname from pg_database where datname in (${names.map((n) => `'${n}'`).join(", ")})`
    ),
    (rows) => new Set(rows.map((r) => String(r["datname"])))
  )

describe("test setup for a service", () => {
  it.live("a service's template has Redrive's tables and its own, a name of its own, and is reused", () =>
    Effect.gen(function*() {
      const created: Array<string> = []
      yield* dropAtEnd(created)
      const directory = yield* Scratch.directory("redrive-widgets")
      // A comment unique to this run: its own template, so runs in parallel and re-runs start clean.
      writeFileSync(
        join(directory, "0001_widgets.sql"),
        `-- ${random()}
         create schema widgets;
         create table widgets.widget (id int primary key, tenant_id text not null);
         select redrive.grant_tenant_access('widgets.widget');\n`
      )
      const options = {
        adminUrl: admin,
        migrations: [{ source: "widgets", directory }],
        cleanup: false
      } as const
      const first = yield* Effect.scoped(prepare(options))
      created.push(first.template)
      assert.match(first.template, /^redrive_tpl_[0-9a-f]{16}$/)
      assert.notStrictEqual(first.template, inject("redriveTemplate"))
      // Redrive's sources alone give the name this run's global setup built.
      const redriveOnly = yield* Template.templateName([
        { source: MigrationRunner.redriveSource, directory: yield* MigrationRunner.directory }
      ])
      assert.strictEqual(redriveOnly, inject("redriveTemplate"))

      const template = withDatabase(admin, first.template)
      const [tables] = yield* AdminClient.adminQuery(
        template,
        // Booleans, not regclass text: a schema on the admin's search_path (the embedded server's
        // superuser is `redrive`, so "$user" is the redrive schema) prints unqualified.
        `select to_regclass('redrive.job') is not null as job, to_regclass('widgets.widget') is not null as widget,
                (select string_agg(distinct source, ',' order by source) from redrive.schema_migration) as sources`
      )
      assert.deepStrictEqual(tables, { job: true, widget: true, sources: "redrive,widgets" })
      const [mark] = yield* AdminClient.adminQuery(
        admin,
        `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = '${first.template}'`
      )
      assert.isDefined(Cleanup.lastUsed(typeof mark?.["comment"] === "string" ? mark["comment"] : null))

      const oid = yield* databaseOid(first.template)
      const second = yield* Effect.scoped(prepare(options))
      assert.strictEqual(second.template, first.template)
      assert.strictEqual(yield* databaseOid(second.template), oid, "the template was built again")

      // A test file's database from it: the service's table, as the runtime role.
      const rows = yield* Effect.scoped(Effect.flatMap(
        TestDatabase.scopedDatabase({ template: first.template }),
        (info) => AdminClient.adminQuery(info.url, "select current_user as who, count(*)::int as n from widgets.widget")
      ))
      assert.deepStrictEqual(rows, [{ who: "redrive_runtime", n: 0 }])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), { timeout: 120_000 })

  it.live("a source given twice is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(prepare({
        adminUrl: admin,
        migrations: [{ source: "redrive", directory: yield* MigrationRunner.directory }],
        cleanup: false
      })))
      assert.strictEqual(error._tag, "Redrive/MigrationRefused")
    }))

  it.live("cleanup drops an old unused template and a dead run's database, and nothing in use or recent", () =>
    Effect.gen(function*() {
      const created: Array<string> = []
      yield* dropAtEnd(created)
      const now = Date.now()
      const hours = (n: number) => now - n * 3_600_000
      const deadPid = 99_999_999 // above any pid_max: never a running process
      const otherHost = Cleanup.hostTag === "000000" ? "111111" : "000000"
      const make = (name: string, lastUsedAt?: number) =>
        Effect.gen(function*() {
          yield* AdminClient.adminQuery(admin, `create database ${AdminClient.quoteIdent(name)}`)
          created.push(name)
          if (lastUsedAt !== undefined) {
            const comment = AdminClient.quoteLiteral(Cleanup.usedMark(new Date(lastUsedAt)))
            yield* AdminClient.adminQuery(admin, `comment on database ${AdminClient.quoteIdent(name)} is ${comment}`)
          }
          return name
        })
      const oldTemplate = yield* make(`redrive_tpl_${randomHex(16)}`, hours(48))
      const recentTemplate = yield* make(`redrive_tpl_${randomHex(16)}`, hours(1))
      const busyTemplate = yield* make(`redrive_tpl_${randomHex(16)}`, hours(48))
      const unmarkedTemplate = yield* make(`redrive_tpl_${randomHex(16)}`)
      const deadRun = yield* make(Cleanup.scratchName("redrive_test", hours(1), deadPid))
      const deadRunYoung = yield* make(Cleanup.scratchName("redrive_test", now, deadPid))
      const liveRun = yield* make(Cleanup.scratchName("redrive_test", hours(1)))
      const otherMachine = yield* make(Cleanup.scratchName("redrive_empty", hours(1), deadPid, otherHost))
      const otherMachineOld = yield* make(Cleanup.scratchName("redrive_tplbuild", hours(48), deadPid, otherHost))

      // Someone connected to it (as to a template whose clone is being made, or a psql session).
      yield* AdminClient.adminSession(withDatabase(admin, busyTemplate))

      yield* Effect.scoped(Effect.flatMap(
        AdminClient.adminSession(admin),
        (session) => Cleanup.withLock(session, Cleanup.run(session, { staleAfter: Duration.hours(24) }))
      ))

      const left = yield* existing(created)
      const dropped = created.filter((name) => !left.has(name))
      assert.sameMembers(dropped, [oldTemplate, deadRun, otherMachineOld])
      assert.includeMembers([...left], [recentTemplate, busyTemplate, unmarkedTemplate, deadRunYoung, liveRun, otherMachine])
      const [mark] = yield* AdminClient.adminQuery(
        admin,
        `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = '${unmarkedTemplate}'`
      )
      assert.isDefined(Cleanup.lastUsed(typeof mark?.["comment"] === "string" ? mark["comment"] : null))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it("decide: the rules without a server", () => {
    const now = new Date("2026-11-30T12:00:00Z")
    const at = (hoursAgo: number) => now.getTime() - hoursAgo * 3_600_000
    const template = (name: string, hoursAgo: number | null, connections = 0) => ({
      name,
      comment: hoursAgo === null ? null : Cleanup.usedMark(new Date(at(hoursAgo))),
      connections
    })
    const scratch = (prefix: string, hoursAgo: number, pid: number, host = "abcdef") => ({
      name: Cleanup.scratchName(prefix, at(hoursAgo), pid, host),
      comment: null,
      connections: 0
    })
    const rows = [
      template("redrive_tpl_aaaa", 25),
      template("redrive_tpl_bbbb", 23),
      template("redrive_tpl_cccc", 25, 1),
      template("redrive_tpl_dddd", null),
      template("redrive_tpl_eeee", 100),
      scratch("redrive_test", 1, 1), // dead pid, this host, 1 h: dropped
      scratch("redrive_test", 0.1, 1), // dead but 6 minutes old: kept
      scratch("redrive_empty", 1, 2), // alive: kept
      scratch("redrive_test", 1, 1, "fedcba"), // another machine: kept
      scratch("redrive_tplbuild", 25, 2), // a day old, even alive: dropped
      { name: `redrive_tplbuild_123_${at(25).toString(36)}`, comment: null, connections: 0 },
      { name: "redrive_test_123_abcdefgh", comment: null, connections: 0 }, // no age: kept
      { name: "redrive_demo", comment: null, connections: 0 }
    ]
    const decision = Cleanup.decide(rows, {
      now,
      staleAfter: Duration.hours(24),
      orphanAfter: Duration.minutes(10),
      host: "abcdef",
      isAlive: (pid) => pid === 2,
      keep: new Set(["redrive_tpl_eeee"])
    })
    assert.deepStrictEqual(decision.drop.map((d) => d.name), [rows[0]!.name, rows[5]!.name, rows[9]!.name, rows[10]!.name])
    assert.deepStrictEqual(decision.mark, ["redrive_tpl_dddd"])
  })
})
