/**
 * The billing service replays its dead letters through Redrive's server: the server runs on a
 * real port (in this process, over this file's database), the service's worker dead-letters a
 * declined charge, and `Recovery` — billing code using the typed RPC client — replays it with a
 * tenant key once the card is fixed.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Scratch, TestDatabase } from "@redrive/database/testing"
import { ApiKeys, Server } from "@redrive/server"
import { ConfigProvider, Context, Effect, Layer, Redacted, Ref, Schedule } from "effect"
import * as FakePayments from "../src/FakePayments.js"
import { InvoiceRepo } from "../src/Invoice.js"
import { ChargeInvoice, definitions } from "../src/jobs.js"
import { workerProcess } from "../src/Layers.js"
import * as Recovery from "../src/Recovery.js"
import { Enqueue } from "@redrive/jobs"

class ServerUrl extends Context.Tag("test/ServerUrl")<ServerUrl, string>() {}

const cursorSecret = Redacted.make("billing recovery tests' cursor key")

/** Redrive's server (with billing's job types, so it validates their payloads) and billing's worker. */
const Environment = Layer.unwrapEffect(Effect.gen(function*() {
  const info = yield* TestDatabase.TestDatabaseInfo
  const provider = yield* FakePayments.FakePayments
  const port = yield* Scratch.freePort
  const server = Server.layer({
    http: { port, host: "127.0.0.1" },
    redrive: { database: { url: info.url, maxConnections: 4 }, cursorSecret, definitions },
    shardingConfig: { shardsPerGroup: 30 }
  })
  const worker = workerProcess({ database: { url: info.url, maxConnections: 4 }, cursorSecret }).pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({ PAYMENTS_URL: provider.url })))
  )
  return Layer.mergeAll(server, worker, Layer.succeed(ServerUrl, `http://127.0.0.1:${port}`), ApiKeys.layer)
})).pipe(Layer.provideMerge(Layer.mergeAll(TestDatabase.layer, FakePayments.layer({ cardLimitCents: 100_000 }))))

const eventually = <A, E, R>(what: string, check: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  check.pipe(
    Effect.filterOrFail(done, () => new Error(`not yet: ${what}`)),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`timed out: ${what}`) })
  )

layer(Environment, { excludeTestServices: true, timeout: "120 seconds" })("billing recovery over Redrive's server", (it) => {
  it.effect("dead charges are replayed through the RPC client with a tenant key, once, and get paid", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const invoices = yield* InvoiceRepo
      const provider = yield* FakePayments.FakePayments
      const tenantId = `recovery-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
      const other = `${tenantId}-other`
      // Two declined charges of the tenant, one of another tenant: each dead-lettered at once (validation).
      for (const [t, customer] of [[tenantId, "dave"], [tenantId, "erin"], [other, "frank"]] as const) {
        yield* sql.withTransaction(Effect.gen(function*() {
          const invoice = yield* invoices.insert({ tenantId: t, customer, amountCents: 500_000 })
          yield* Enqueue.one(ChargeInvoice, { invoiceId: invoice.id }, { tenantId: t })
        }))
      }
      const deadOf = (t: string) =>
        sql<{ n: string }>`select count(*) as n from redrive.job_dlq where tenant_id = ${t} and replayed_at is null`
          .pipe(Effect.map((r) => Number(r[0]!.n)))
      yield* eventually("three dead letters", Effect.all([deadOf(tenantId), deadOf(other)]), ([a, b]) => a === 2 && b === 1)

      const key = yield* Effect.flatMap(ApiKeys.ApiKeys, (k) => k.create({ name: "billing-recovery", tenant: tenantId }))
      const url = yield* ServerUrl
      yield* Ref.update(provider.state, (s) => ({ ...s, cardLimitCents: 1_000_000 }))
      const recover = Effect.flatMap(Recovery.Recovery, (r) => r.replayDeadCharges(tenantId)).pipe(
        Effect.provide(Recovery.layer({ url, key: key.secret }))
      )
      const replayed = yield* recover
      assert.strictEqual(replayed.length, 2)
      // Again: nothing left to replay, and no dead letter was replayed twice.
      assert.deepStrictEqual(yield* recover, [])
      const [lineage] = yield* sql<{ jobs: string }>`
        select count(*) as jobs from redrive.job_dlq d where d.tenant_id = ${tenantId} and d.replay_job_id is not null`
      assert.strictEqual(Number(lineage!.jobs), 2)
      const paid = yield* eventually(
        "the tenant's invoices paid",
        Effect.map(invoices.list, (all) => all.filter((i) => i.tenantId === tenantId)),
        (list) => list.length === 2 && list.every((i) => i.status === "paid")
      )
      assert.strictEqual(paid.length, 2)
      // The other tenant's dead letter was out of the key's reach.
      assert.strictEqual(yield* deadOf(other), 1)
    }))
})
