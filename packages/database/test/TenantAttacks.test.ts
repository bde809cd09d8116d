/**
 * Attacks from inside a tenant block (issue 9): raw SQL run exactly where a tenant's statements
 * run, trying to see or change another tenant's rows or to stall everyone. Each one must be
 * refused; the test prints what each attack got.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { JobDlqRepo, layerInsecureDefault } from "../src/JobDlqRepo.js"
import { JobRepo } from "../src/JobRepo.js"
import { withTenant } from "../src/Tenant.js"
import { Factory as F, TestDatabase } from "../src/testing/index.js"

const a = F.tenant()
const b = F.tenant()

const Test = Layer.mergeAll(JobRepo.Default, layerInsecureDefault).pipe(Layer.provideMerge(TestDatabase.layer))

/** Rows of b (and a global channel) written by the runtime. */
const seed = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* JobRepo
  const dlq = yield* JobDlqRepo
  const bJob = (yield* jobs.insert(F.job({ tenantId: b }))).id
  const aJob = (yield* jobs.insert(F.job({ tenantId: a }))).id
  const bDeadLetter = (yield* dlq.insert(F.deadLetter({ tenantId: b }))).id
  const [bChannel] = yield* sql<{ id: string }>`
    insert into redrive.alert_channel (tenant_id, name, kind, url, secret)
    values (${b}, ${`hook-${F.queue()}`}, 'webhook', 'https://b.example/h', 'whsec_b') returning id`
  const [globalChannel] = yield* sql<{ id: string }>`
    insert into redrive.alert_channel (tenant_id, name, kind, url, secret)
    values (null, ${`global-${F.queue()}`}, 'webhook', 'https://ops.example/h', 'whsec_global') returning id`
  yield* sql`insert into redrive.alert_delivery (channel_id, tenant_id, event, payload)
             values (${globalChannel!.id}, ${a}, 'job.dead_lettered', '{}')`
  yield* sql`insert into redrive.control_event (tenant_id, queue, action, actor) values (${a}, 'q', 'pause', 'ops')`
  const [request] = yield* sql<{ id: string }>`
    insert into redrive.replay_request (tenant_id, filter, requested_by, max_dlq_id) values (${a}, '{}', 'ops', 10)
    returning id`
  return { bJob, aJob, bDeadLetter, bChannel: bChannel!.id, globalChannel: globalChannel!.id, request: request!.id }
})

type Seed = Effect.Effect.Success<typeof seed>

interface Attack {
  readonly name: string
  /** Raw SQL as the tenant: a statement, or several in one block. */
  readonly run: (sql: SqlClient.SqlClient, s: Seed) => Effect.Effect<unknown, unknown>
  /** What the refusal says (SQLSTATE and message fragment). */
  readonly refused: string
}

/** b's rows as a sees them after an attack, inside the same block. */
const bRowsSeen = (sql: SqlClient.SqlClient) =>
  sql<{ n: string }>`select (select count(*) from redrive.job where tenant_id = ${b})
                          + (select count(*) from redrive.job_dlq where tenant_id = ${b}) as n`.pipe(
    Effect.map((rows) => Number(rows[0]!.n))
  )

const attacks: ReadonlyArray<Attack> = [
  {
    name: "set_config('redrive.tenant_id', b): the old setting is ignored",
    run: (sql) =>
      Effect.gen(function*() {
        yield* sql`select set_config('redrive.tenant_id', ${b}, true)`
        const seen = yield* bRowsSeen(sql)
        if (seen > 0) return yield* Effect.fail(`saw ${seen} of b's rows`)
        return yield* Effect.fail("saw nothing of b")
      }),
    refused: "saw nothing of b"
  },
  {
    name: "set_config('redrive.tenant_token', a forged token for b)",
    run: (sql) =>
      Effect.zipRight(
        sql`select set_config('redrive.tenant_token', ${`${"0".repeat(64)}.${b}`}, true)`,
        bRowsSeen(sql)
      ),
    refused: "42501 invalid tenant token"
  },
  {
    name: "a's own token with b's id spliced in",
    run: (sql) =>
      Effect.gen(function*() {
        const [own] = yield* sql<{ t: string }>`select current_setting('redrive.tenant_token') as t`
        const mac = own!.t.split(".")[0]!
        yield* sql`select set_config('redrive.tenant_token', ${`${mac}.${b}`}, true)`
        return yield* bRowsSeen(sql)
      }),
    refused: "42501 invalid tenant token"
  },
  {
    name: "minting b's token: select redrive.seal_tenant(b)",
    run: (sql) => sql`select redrive.seal_tenant(${b})`,
    refused: "42501 permission denied for function seal_tenant"
  },
  {
    name: "reading the seal key",
    run: (sql) => sql`select * from redrive.tenant_seal`,
    refused: "42501 permission denied for table tenant_seal"
  },
  {
    name: "reset role, then read b's rows",
    run: (sql) =>
      Effect.gen(function*() {
        yield* sql`reset role`
        const [who] = yield* sql<{ u: string }>`select current_user as u`
        const seen = yield* bRowsSeen(sql)
        return yield* Effect.fail(`still ${who!.u}, saw ${seen} of b's rows`)
      }),
    refused: "still redrive_tenant, saw 0 of b's rows"
  },
  {
    name: "set role redrive_runtime",
    run: (sql) => sql`set role redrive_runtime`,
    refused: "42501 permission denied to set role"
  },
  {
    name: "set role redrive_owner",
    run: (sql) => sql`set role redrive_owner`,
    refused: "42501 permission denied to set role"
  },
  {
    name: "set session authorization redrive_runtime",
    run: (sql) => sql`set session authorization redrive_runtime`,
    refused: "42501 permission denied to set session authorization"
  },
  {
    name: "explicit job id (overriding system value) to take a future id",
    run: (sql) =>
      sql`insert into redrive.job (id, tenant_id, queue, type, payload) overriding system value
          values (900000000, ${a}, 'q', 'email.send', '{}')`,
    refused: "42501 permission denied for table job"
  },
  {
    name: "a job claiming lineage from b's dead letter (replay_of)",
    run: (sql, s) =>
      sql`insert into redrive.job (tenant_id, queue, type, payload, replay_of)
          values (${a}, 'q', 'email.send', '{}', ${s.bDeadLetter})`,
    refused: "42501 permission denied for table job"
  },
  {
    name: "pre-inserting a dead letter under b's job id",
    run: (sql, s) =>
      sql`insert into redrive.job_dlq (job_id, tenant_id, queue, type, payload, priority, attempts, max_attempts,
            error_class, error_reason, error_history, fingerprint, first_failed_at)
          values (${s.bJob}, ${a}, 'q', 'email.send', '{}', 5, 1, 1, 'unknown', 'x', '[]', 'f', now())`,
    refused: "42501 permission denied for table job_dlq"
  },
  {
    name: "stamping its own dead letters replayed without replaying them",
    run: (sql) => sql`update redrive.job_dlq set replayed_at = now(), replayed_by = 'x'`,
    refused: "42501 permission denied for table job_dlq"
  },
  {
    name: "raising its replay request's max_dlq_id to stall the runner",
    run: (sql, s) => sql`update redrive.replay_request set max_dlq_id = 10000000000000000 where id = ${s.request}`,
    refused: "42501 permission denied for table replay_request"
  },
  {
    name: "inserting a replay request directly",
    run: (sql) =>
      sql`insert into redrive.replay_request (tenant_id, filter, requested_by, max_dlq_id)
          values (${a}, '{}', 'm', 10000000000000000)`,
    refused: "42501 permission denied for table replay_request"
  },
  {
    name: "a delivery pointed at b's channel (cross-tenant foreign key)",
    run: (sql, s) =>
      sql`insert into redrive.alert_delivery (channel_id, tenant_id, event, payload)
          values (${s.bChannel}, ${a}, 'job.dead_lettered', '{}')`,
    refused: "42501 permission denied for table alert_delivery"
  },
  {
    name: "deleting deliveries queued to the global channel",
    run: (sql, s) => sql`delete from redrive.alert_delivery where channel_id = ${s.globalChannel}`,
    refused: "42501 permission denied for table alert_delivery"
  },
  {
    name: "reading alert channel secrets",
    run: (sql) => sql`select secret from redrive.alert_channel`,
    refused: "42501 permission denied for table alert_channel"
  },
  {
    name: "rewriting its audit trail (update control_event)",
    run: (sql) => sql`update redrive.control_event set actor = 'someone else'`,
    refused: "42501 permission denied for table control_event"
  },
  {
    name: "erasing its audit trail (delete control_event)",
    run: (sql) => sql`delete from redrive.control_event`,
    refused: "42501 permission denied for table control_event"
  },
  {
    name: "pausing every tenant (insert a '*' control row)",
    run: (sql) => sql`insert into redrive.control (tenant_id, queue, state, initiated_by) values ('*', '*', 'paused', 'm')`,
    refused: "42501 permission denied for table control"
  },
  {
    name: "locking the job table to stall every worker",
    run: (sql) => sql`lock table redrive.job in exclusive mode`,
    refused: "42501 permission denied for table job"
  },
  {
    name: "locking the control table to stall every claim",
    run: (sql) => sql`lock table redrive.control in share row exclusive mode`,
    refused: "42501 permission denied for table control"
  },
  {
    name: "reading API key hashes",
    run: (sql) => sql`select hash from redrive.api_key`,
    refused: "42501 permission denied for table api_key"
  },
  {
    name: "moving its own job to b",
    run: (sql, s) => sql`update redrive.job set tenant_id = ${b} where id = ${s.aJob}`,
    refused: "42501 permission denied for table job"
  },
  {
    name: "creating a function in the redrive schema",
    run: (sql) => sql.unsafe(`create function redrive.current_tenant(x int) returns text language sql as 'select 1::text'`),
    refused: "42501 permission denied for schema redrive"
  }
]

/** SQLSTATE and message of a database error, or the failure itself. */
const describe = (e: unknown): string => {
  const cause = typeof e === "object" && e !== null && "cause" in e ? e.cause : undefined
  if (typeof cause === "object" && cause !== null && "code" in cause && "message" in cause) {
    return `${String(cause.code)} ${String(cause.message)}`
  }
  return String(e)
}

layer(Test, { excludeTestServices: true })("attacks from inside a tenant block", (it) => {
  it.effect("every attack is refused, and nothing of b is seen or changed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const s = yield* seed
      const snapshot = sql`
        select (select jsonb_agg(j order by id) from redrive.job j where tenant_id = ${b}) as jobs,
               (select jsonb_agg(d order by id) from redrive.job_dlq d where tenant_id = ${b}) as dlq,
               (select jsonb_agg(x order by id) from redrive.alert_delivery x) as deliveries,
               (select jsonb_agg(r order by id) from redrive.replay_request r where tenant_id = ${a}) as requests,
               (select jsonb_agg(e order by id) from redrive.control_event e where tenant_id = ${a}) as events,
               (select count(*) from redrive.control where tenant_id = '*') as wildcard_controls,
               (select count(*) from redrive.job where tenant_id = ${a}) as a_jobs`
      const before = yield* snapshot
      const report: Array<string> = []
      for (const attack of attacks) {
        const outcome = yield* Effect.either(withTenant(a, attack.run(sql, s)))
        assert.isTrue(outcome._tag === "Left", `${attack.name}: succeeded`)
        const got = outcome._tag === "Left" ? describe(outcome.left) : "succeeded"
        report.push(`  ${attack.name}\n    → ${got}`)
        assert.include(got, attack.refused, attack.name)
      }
      console.log(`tenant attacks (${attacks.length}), each refused:\n${report.join("\n")}`)
      assert.deepStrictEqual(yield* snapshot, before, "nothing changed")
    }))

  it.effect("the tenant's own work still goes through: enqueue, read, cancel", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* seed
      const [job] = yield* withTenant(a, sql<{ id: string }>`
        insert into redrive.job (tenant_id, queue, type, payload, idempotency_key) values (${a}, 'q', 'email.send', '{}', 'k')
        returning id`)
      const seen = yield* withTenant(a, sql<{ tenantId: string }>`select distinct tenant_id from redrive.job`)
      assert.deepStrictEqual(seen.map((r) => r.tenantId), [a])
      const cancelled = yield* withTenant(a, sql`
        update redrive.job set state = 'cancelled', completed_at = now() where id = ${job!.id} returning id`)
      assert.strictEqual(cancelled.length, 1)
    }))
})
