/**
 * The billing service end to end, as its users meet it: over HTTP, with its worker charging
 * invoices through a fake payment provider (a real HTTP server), on a database of its own
 * cloned from a template with Redrive's tables and billing's.
 */
import { FetchHttpClient, HttpApiClient } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Enqueue } from "@redrive/jobs"
import { Scratch, TestDatabase } from "@redrive/database/testing"
import { ConfigProvider, Context, Effect, Either, Layer, Redacted, Ref, Schedule } from "effect"
import { BillingApi } from "../src/Api.js"
import * as FakePayments from "../src/FakePayments.js"
import { InvoiceRepo } from "../src/Invoice.js"
import { ChargeInvoice } from "../src/jobs.js"
import { allInOne } from "../src/Layers.js"

class BaseUrl extends Context.Tag("test/BaseUrl")<BaseUrl, string>() {}

/** The whole service (API and worker) on a free port, over this file's database and the fake provider. */
const Service = Layer.unwrapEffect(Effect.gen(function*() {
  const info = yield* TestDatabase.TestDatabaseInfo
  const provider = yield* FakePayments.FakePayments
  const port = yield* Scratch.freePort
  const service = allInOne({
    database: { url: info.url, maxConnections: 4 },
    cursorSecret: Redacted.make("billing tests' cursor key")
  }).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({ PORT: port, PAYMENTS_URL: provider.url }))))
  return Layer.merge(service, Layer.succeed(BaseUrl, `http://127.0.0.1:${port}`))
})).pipe(
  Layer.provideMerge(Layer.mergeAll(TestDatabase.layer, FakePayments.layer({ cardLimitCents: 100_000 }), FetchHttpClient.layer))
)

const client = Effect.flatMap(BaseUrl, (baseUrl) => HttpApiClient.make(BillingApi, { baseUrl }))

let tenants = 0
const tenant = () => `t${process.pid}-${++tenants}-${Math.random().toString(36).slice(2, 6)}`

const eventually = <A, E, R>(what: string, check: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  check.pipe(
    Effect.filterOrFail(done, () => new Error(`not yet: ${what}`)),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`timed out: ${what}`) })
  )

layer(Service, { excludeTestServices: true, timeout: "90 seconds" })("billing", (it) => {
  it.effect("an invoice opened over HTTP is charged by the worker; a 503 is retried, a 429 waits", () =>
    Effect.gen(function*() {
      const api = yield* client
      const tenantId = tenant()
      const opened = yield* Effect.all([
        api.invoices.open({ payload: { tenantId, customer: "alice", amountCents: 1_000 } }),
        api.invoices.open({ payload: { tenantId, customer: "flaky bob", amountCents: 2_000 } }),
        api.invoices.open({ payload: { tenantId, customer: "throttled carol", amountCents: 3_000 } })
      ])
      assert.deepStrictEqual(opened.map((o) => o.invoice.status), ["open", "open", "open"])
      const invoices = yield* eventually(
        "every invoice paid",
        api.invoices.list({ path: { tenantId } }),
        (list) => list.length === 3 && list.every((i) => i.status === "paid")
      )
      assert.isTrue(invoices.every((i) => i.paymentRef?.startsWith("ch_") === true && i.paidAt instanceof Date))
      const calls = (yield* Ref.get((yield* FakePayments.FakePayments).state)).calls
      assert.deepStrictEqual(opened.map((o) => calls.get(`invoice-${o.invoice.id}`)), [1, 2, 2])
    }))

  it.effect("a declined card is dead-lettered at once, inspected over HTTP, and replayed once when fixed", () =>
    Effect.gen(function*() {
      const api = yield* client
      const provider = yield* FakePayments.FakePayments
      const tenantId = tenant()
      const { invoice } = yield* api.invoices.open({ payload: { tenantId, customer: "dave", amountCents: 500_000 } })
      const page = yield* eventually(
        "the dead letter",
        api.deadLetters.list({ urlParams: { tenantId } }),
        (p) => p.items.length === 1
      )
      const summary = page.items[0]!
      assert.deepInclude(summary, { tenantId, type: ChargeInvoice.name, errorClass: "validation", attempts: 1 })
      const dead = yield* api.deadLetters.get({ path: { id: String(summary.id) } })
      assert.deepStrictEqual(dead.payload, { invoiceId: invoice.id })
      const [first] = dead.errorHistory
      assert.include(first !== undefined && "message" in first ? first.message : "", "402")
      // Classified from the HttpClient's ResponseError: no retry was spent on a decline.
      assert.strictEqual(dead.errorHistory.length, 1)

      yield* Ref.update(provider.state, (s) => ({ ...s, cardLimitCents: 1_000_000 }))
      const replayed = yield* api.deadLetters.replay({ path: { id: String(summary.id) }, payload: { by: "ops" } })
      const again = yield* api.deadLetters.replay({ path: { id: String(summary.id) }, payload: { by: "ops" } })
      assert.isTrue(replayed.created)
      assert.deepStrictEqual(again, { jobId: replayed.jobId, created: false })
      yield* eventually("the invoice paid", api.invoices.list({ path: { tenantId } }), (l) => l[0]?.status === "paid")
      const after = yield* api.deadLetters.list({ urlParams: { tenantId } })
      assert.strictEqual(after.items.length, 0)
    }))

  it.effect("a failure after the enqueue rolls back the invoice and its job together", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const invoices = yield* InvoiceRepo
      const tenantId = tenant()
      const failed = yield* Effect.either(sql.withTransaction(Effect.gen(function*() {
        const invoice = yield* invoices.insert({ tenantId, customer: "erin", amountCents: 100 })
        yield* Enqueue.one(ChargeInvoice, { invoiceId: invoice.id }, { tenantId })
        return yield* Effect.fail("the service's next step failed" as const)
      })))
      assert.isTrue(Either.isLeft(failed))
      const [counts] = yield* sql<{ invoices: string; jobs: string }>`
        select (select count(*) from billing.invoice where tenant_id = ${tenantId}) as invoices,
               (select count(*) from redrive.job where tenant_id = ${tenantId}) as jobs`
      assert.deepStrictEqual(counts, { invoices: "0", jobs: "0" })
    }))

  it.effect("a tenant sees only its own invoices (row-level security on the service's table)", () =>
    Effect.gen(function*() {
      const api = yield* client
      const [a, b] = [tenant(), tenant()]
      yield* api.invoices.open({ payload: { tenantId: a, customer: "frank", amountCents: 100 } })
      yield* api.invoices.open({ payload: { tenantId: b, customer: "grace", amountCents: 200 } })
      const seen = yield* api.invoices.list({ path: { tenantId: a } })
      assert.deepStrictEqual(seen.map((i) => [i.tenantId, i.customer]), [[a, "frank"]])
      const reserved = yield* Effect.flip(api.invoices.list({ path: { tenantId: "default" } }))
      assert.deepInclude(reserved, { _tag: "BadRequest", field: "tenantId" })
    }))

  it.effect("bad input is a 400 naming the field: a forged cursor, a dead-letter id that is no number", () =>
    Effect.gen(function*() {
      const api = yield* client
      const cursor = yield* Effect.flip(api.deadLetters.list({ urlParams: { cursor: "forged" } }))
      assert.deepInclude(cursor, { _tag: "BadRequest", field: "cursor" })
      const limit = yield* Effect.flip(api.deadLetters.list({ urlParams: { limit: 10_000 } }))
      assert.deepInclude(limit, { _tag: "BadRequest", field: "limit" })
      const id = yield* Effect.flip(api.deadLetters.replay({ path: { id: "seven" }, payload: { by: "ops" } }))
      assert.deepInclude(id, { _tag: "BadRequest", field: "id" })
      const missing = yield* Effect.flip(api.deadLetters.get({ path: { id: "999999999" } }))
      assert.strictEqual(missing._tag, "NotFound")
    }))
})
