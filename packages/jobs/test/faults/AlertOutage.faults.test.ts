/**
 * An alert endpoint that is down: two worker processes drain jobs of which 4 % dead-letter (each
 * one a `job.dead_lettered` delivery to a webhook channel), first with the endpoint up, then with
 * it answering 503. The dispatcher's timings are shortened 20 times (backoff 500 ms instead of
 * 10 s), so the 15 s outage stands for 5 minutes of the defaults. Job processing does not slow
 * down while the endpoint fails; when it returns, every delivery arrives (as itself or inside a
 * digest), none is failed for good, none lost.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { createFaultTables, enqueue, query, queue, scalar, spawnFaultWorker, until } from "./faultFixtures.js"

const phaseJobs = 15_000
const deadEvery = 25
const outageMillis = 15_000

const settings = {
  FAULT_CONCURRENCY: "20",
  FAULT_BATCH_SIZE: "50",
  FAULT_DEAD_EVERY: String(deadEvery),
  FAULT_ALERT_INTERVAL_MILLIS: "200",
  FAULT_ALERT_BACKOFF_MILLIS: "500"
}

interface Endpoint {
  readonly url: string
  /** Answer 503 (down) or 204 (up). */
  readonly setUp: (up: boolean) => void
  /** Each message id received while up, with how many deliveries it stands for. */
  readonly received: Map<string, number>
  readonly refused: () => number
}

const endpoint = Effect.acquireRelease(
  Effect.async<Endpoint & { readonly server: http.Server }>((resume) => {
    let up = true
    let refused = 0
    const received = new Map<string, number>()
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        if (!up) {
          refused++
          res.writeHead(503).end()
          return
        }
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString())
        const digest = typeof body === "object" && body !== null && "digest" in body ? body.digest : undefined
        const count = typeof digest === "object" && digest !== null && "count" in digest ? Number(digest.count) : 1
        received.set(String(req.headers["webhook-id"]), count)
        res.writeHead(204).end()
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        setUp: (u) => void (up = u),
        received,
        refused: () => refused
      })))
  }),
  ({ server }) => Effect.sync(() => server.close())
)

const deadIn = (from: number, to: number) => {
  let n = 0
  for (let i = from; i < to; i++) if (i % deadEvery === 5) n++
  return n
}

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "120 seconds" })("fault suite: an alert endpoint down", (it) => {
  it.effect("alerts wait out a down endpoint and all arrive after it returns; jobs run on meanwhile", () =>
    Effect.gen(function*() {
      const { adminDatabaseUrl: url, url: runtimeUrl } = yield* TestDatabase.TestDatabaseInfo
      yield* createFaultTables(url)
      const hook = yield* endpoint
      yield* query(
        url,
        `insert into redrive.alert_channel (name, kind, url, secret, events, digest_window_s)
         values ('fault-hook', 'webhook', '${hook.url}', 'whsec_${Buffer.from("fault suite signing key").toString("base64")}',
                 '{job.dead_lettered}', 2)`
      )
      yield* Effect.all([1, 2].map(() => spawnFaultWorker(runtimeUrl, settings)), { concurrency: "unbounded" })
      const left = `select count(*) from redrive.job where queue = '${queue}'`

      /** Enqueues one phase's jobs and waits for them to drain; jobs/s. */
      const phase = (from: number) =>
        Effect.gen(function*() {
          const started = Date.now()
          yield* enqueue(url, from, phaseJobs)
          yield* until(url, left, (n) => n === 0, "180 seconds", "50 millis")
          return phaseJobs / ((Date.now() - started) / 1000)
        })

      // Warm-up, then the baseline with the endpoint up.
      yield* phase(0)
      const upRate = yield* phase(phaseJobs)

      hook.setUp(false)
      const downAt = Date.now()
      const downRate = yield* phase(2 * phaseJobs)
      const pendingWhileDown = yield* scalar(url, `select count(*) from redrive.alert_delivery where state in ('pending', 'coalesced')`)
      yield* Effect.sleep(Math.max(0, outageMillis - (Date.now() - downAt)))
      const failedTries = yield* scalar(url, `select count(*) from redrive.alert_attempt where outcome <> 'delivered'`)
      hook.setUp(true)
      const upAt = Date.now()

      const deliveries = deadIn(0, 3 * phaseJobs)
      assert.strictEqual(yield* scalar(url, `select count(*) from redrive.job_dlq where queue = '${queue}'`), deliveries)
      yield* until(
        url,
        `select count(*) from redrive.alert_delivery where state in ('pending', 'coalesced')`,
        (n) => n === 0,
        "120 seconds",
        "200 millis"
      )
      const caughtUpIn = (Date.now() - upAt) / 1000
      const states = yield* query(url, `select state, count(*)::int as n from redrive.alert_delivery group by state order by state`)
      const arrived = [...hook.received.values()].reduce((a, b) => a + b, 0)
      console.log(
        `fault suite alert outage: ${deliveries} dead letters -> ${deliveries} deliveries in ${hook.received.size} messages; ` +
          `endpoint down ${(outageMillis / 1000).toFixed(0)} s (5 min at the default backoff): ${hook.refused()} tries refused, ` +
          `${pendingWhileDown} deliveries waiting; all arrived ${caughtUpIn.toFixed(1)} s after it returned; ` +
          `jobs/s with the endpoint up ${upRate.toFixed(0)}, down ${downRate.toFixed(0)}; states ${JSON.stringify(states)}`
      )
      assert.isAbove(pendingWhileDown, 0, "deliveries waited while the endpoint was down")
      assert.isAbove(failedTries, 0, "the dispatcher tried the down endpoint")
      assert.deepStrictEqual(
        states.map((r) => String(r["state"])),
        ["delivered"],
        "every delivery delivered, none failed for good"
      )
      assert.strictEqual(arrived, deliveries, "every delivery arrived at the endpoint, alone or in a digest")
      // Job processing went on at its pace: the dispatcher holds no connection while it sends.
      assert.isAbove(downRate, upRate * 0.5, `jobs/s down ${downRate} against up ${upRate}`)
    }).pipe(Effect.scoped), 400_000)
})
