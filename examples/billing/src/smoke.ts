/**
 * `node dist/smoke.js`: the compiled service end to end, with plain node. On a fresh database of
 * the server at DATABASE_URL (an administrator's URL; default the local server) it migrates
 * Redrive's and billing's tables, starts the fake payment provider and the whole service (API and
 * worker), opens three invoices over HTTP (one paid at once, one after a 503, one declined), waits
 * for the declined one in the dead-letter queue, raises the card limit, replays it over HTTP, and
 * checks every invoice is paid. Exits 0 on success, 1 otherwise; drops its database either way.
 */
import { FetchHttpClient, HttpApiClient } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Database, MigrationRunner, Roles } from "@redrive/database"
import { ConfigProvider, Duration, Effect, Layer, Redacted, Ref, Schedule } from "effect"
import { createServer } from "node:net"
import pg from "pg"
import { BillingApi } from "./Api.js"
import * as FakePayments from "./FakePayments.js"
import { allInOne } from "./Layers.js"
import { source } from "./migrations.js"

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const name = `billing_smoke_${process.pid}`
const databaseUrl = (() => {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
})()

const admin = (text: string) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    try {
      await client.query(text)
    } finally {
      await client.end()
    }
  })

/** A TCP port on 127.0.0.1 that was free a moment ago. */
const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const until = <A, E, R>(what: string, check: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  check.pipe(
    Effect.filterOrFail(done, () => new Error(`not yet: ${what}`)),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`timed out waiting for ${what}`) })
  )

const scenario = (port: number) => Effect.gen(function*() {
  const client = yield* HttpApiClient.make(BillingApi, { baseUrl: `http://127.0.0.1:${port}` })
  const tenantId = "smoke"
  const open = (customer: string, amountCents: number) =>
    client.invoices.open({ payload: { tenantId, customer, amountCents } })
  const paid = yield* open("alice", 1_200)
  const flaky = yield* open("flaky bob", 3_400)
  const declined = yield* open("carol", 250_000)
  yield* Effect.logInfo(`opened invoices ${paid.invoice.id}, ${flaky.invoice.id}, ${declined.invoice.id}`)

  const deadLetters = yield* until(
    "the declined charge's dead letter",
    client.deadLetters.list({ urlParams: { tenantId } }),
    (page) => page.items.length === 1
  )
  const dead = deadLetters.items[0]!
  if (dead.errorClass !== "validation" || dead.attempts !== 1) {
    return yield* Effect.fail(new Error(`expected a validation dead letter after 1 attempt, got ${JSON.stringify(dead)}`))
  }
  yield* Effect.logInfo(`dead letter ${dead.id}: ${dead.errorClass} after ${dead.attempts} attempt (${dead.errorReason})`)

  // The customer updates their card; an operator replays the dead letter.
  const provider = yield* FakePayments.FakePayments
  yield* Ref.update(provider.state, (s) => ({ ...s, cardLimitCents: 1_000_000 }))
  const replayed = yield* client.deadLetters.replay({ path: { id: String(dead.id) }, payload: { by: "smoke" } })
  const again = yield* client.deadLetters.replay({ path: { id: String(dead.id) }, payload: { by: "smoke" } })
  if (!replayed.created || again.created || again.jobId !== replayed.jobId) {
    return yield* Effect.fail(new Error("a second replay must return the first replay's job"))
  }

  const invoices = yield* until(
    "every invoice paid",
    client.invoices.list({ path: { tenantId } }),
    (list) => list.length === 3 && list.every((i) => i.status === "paid")
  )
  const calls = (yield* Ref.get(provider.state)).calls
  yield* Effect.logInfo(
    `all ${invoices.length} invoices paid; provider calls per invoice: ${JSON.stringify(Object.fromEntries(calls))}`
  )
})

const program = Effect.gen(function*() {
  yield* admin(`drop database if exists ${name} with (force)`)
  yield* admin(`create database ${name}`)
  yield* Effect.gen(function*() {
    // Migrate as the administrator, then run as the runtime role (the local server trusts it).
    yield* Effect.all([MigrationRunner.up(), MigrationRunner.up(source)]).pipe(
      Effect.provide(Database.layer({ url: Redacted.make(databaseUrl), maxConnections: 2, administrator: true })),
      Effect.provide(NodeContext.layer),
      Effect.scoped
    )
    const runtimeUrl = Roles.localRuntimeUrl(Redacted.make(databaseUrl))
    const provider = yield* FakePayments.FakePayments
    const port = yield* freePort
    const service = allInOne({ database: { url: runtimeUrl, maxConnections: 4 } }).pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({
        PORT: port,
        PAYMENTS_URL: provider.url,
        REDRIVE_CURSOR_SECRET: "smoke-test cursor key, not for production"
      })))
    )
    yield* scenario(port).pipe(Effect.provide(Layer.merge(service, FetchHttpClient.layer)))
  }).pipe(
    Effect.provide(FakePayments.layer({ cardLimitCents: 100_000 })),
    Effect.scoped,
    Effect.ensuring(admin(`drop database if exists ${name} with (force)`).pipe(Effect.ignore))
  )
  yield* Effect.logInfo("billing smoke: ok")
}).pipe(Effect.timeout(Duration.minutes(2)))

program.pipe(NodeRuntime.runMain)
