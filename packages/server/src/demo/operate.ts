/**
 * The demo's operator step: an alert channel pointing at a local endpoint that verifies every
 * alert's signature, a pause of the demo's email queue while another queue keeps running, a
 * resume, and a drain that lets the jobs in flight finish and then reports `drained` — each
 * change audited in control_event and announced to the endpoint.
 */
import { AlertChannels, Controls, Enqueue, Worker } from "@redrive/jobs"
import { Clock, Console, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { SendEmail, SyncContact, tenant } from "./definitions.js"
import { ms, seconds, table } from "./format.js"
import { handlers } from "./handlers.js"
import * as Queries from "./queries.js"
import { receiver } from "./receiver.js"

const say = (...lines: ReadonlyArray<string>) => Console.log(lines.join("\n"))

const emails = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ to: `ops${i}@example.com`, template: "receipt" as const, customerId: 50_000 + i }))
const contacts = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ contactId: `ops_${i}`, email: `ops${i}@example.com`, plan: "pro" as const }))

const until = <A, E, R>(check: Effect.Effect<A, E, R>, done: (a: A) => boolean, timeoutMs = 20_000) =>
  Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    for (;;) {
      const a = yield* check
      if (done(a)) return a
      if ((yield* Clock.currentTimeMillis) - t0 > timeoutMs) return yield* Effect.dieMessage("demo: timed out waiting")
      yield* Effect.sleep("25 millis")
    }
  })

export const operate = Effect.gen(function*() {
  const secret = `whsec_${randomBytes(24).toString("base64")}`
  const endpoint = yield* receiver(secret)
  const channels = yield* AlertChannels.AlertChannels
  const channel = yield* channels.create({
    name: "demo-ops",
    kind: "webhook",
    url: endpoint.url,
    secret,
    tenantId: tenant,
    events: ["control.paused", "control.resumed", "control.drain_started", "control.drain_completed"],
    digestWindowS: 0,
    by: "demo"
  })
  yield* say(
    `  alert channel #${channel.id} "${channel.name}" (webhook, tenant ${tenant}, control.* events) → ${endpoint.url}`,
    "  the endpoint verifies each request with the `standardwebhooks` package and the channel's secret"
  )

  const controls = yield* Controls.Controls
  const scope = { tenantId: tenant, queue: SendEmail.queue }
  const t0 = yield* Clock.currentTimeMillis
  const at = Effect.map(Clock.currentTimeMillis, (now) => seconds(now - t0).padStart(6))

  // One worker with the maintenance tasks at demo speed: the dispatcher sends within 100 ms and the
  // drain watcher notices the last job of a draining scope within 100 ms.
  yield* Layer.buildWithScope(
    Worker.layer({
      handlers,
      concurrency: 8,
      batchSize: 20,
      pollInterval: 50,
      keepCompleted: true,
      shutdownGrace: "2 seconds",
      maintenance: {
        electionInterval: "200 millis",
        alerts: { dispatcher: { interval: "100 millis" }, evaluator: false },
        drainWatcher: { interval: "100 millis" }
      }
    }),
    yield* Effect.scope
  )

  // Each batch's jobs carry idempotency keys `<batch>:<n>`, so the step counts its own jobs only.
  const enqueueEmails = (batch: string, n: number) =>
    Enqueue.many(SendEmail, emails(n), { tenantId: tenant, idempotencyKeys: emails(n).map((_, i) => `${batch}:${i}`) })
  const batch = (name: string) => Queries.batchJobs(SendEmail.name, name)

  const paused = yield* controls.pause({ ...scope, reason: "mail provider maintenance window", by: "ops@demo" })
  yield* say(`  ${yield* at}  pause ${tenant}/${SendEmail.queue} ("${paused.control?.reason}"): nothing of it starts from now`)
  yield* enqueueEmails("ops-a", 200)
  yield* Enqueue.many(SyncContact, contacts(60), {
    tenantId: tenant,
    idempotencyKeys: contacts(60).map((_, i) => `ops-c:${i}`)
  })
  yield* say(`  ${yield* at}  enqueued 200 emails into the paused queue and 60 CRM syncs into ${SyncContact.queue}`)
  yield* until(Queries.batchJobs(SyncContact.name, "ops-c"), (j) => j.completed === 60)
  const whilePaused = yield* batch("ops-a")
  yield* say(
    `  ${yield* at}  the other queue kept running: 60 CRM syncs completed; the 200 emails: ` +
      `${whilePaused.waiting} waiting (paused), ${whilePaused.running} running, ${whilePaused.completed} completed`
  )

  const resumed = yield* controls.resume({ ...scope, by: "ops@demo" })
  yield* say(`  ${yield* at}  resume: ${resumed.moved} waiting emails back in the claim index, workers notified`)
  yield* until(batch("ops-a"), (j) => j.completed === 200)
  yield* say(`  ${yield* at}  all 200 emails completed`)

  yield* enqueueEmails("ops-b", 300)
  yield* until(batch("ops-b"), (j) => j.completed >= 40)
  const draining = yield* controls.drain({ ...scope, by: "ops@demo" })
  const atDrain = yield* batch("ops-b")
  yield* say(
    `  ${yield* at}  drain (state ${draining.control?.state}) with 300 more emails under way: no new starts; ` +
      `${atDrain.running} in flight finish, ${atDrain.waiting} wait`
  )
  const isDrained = (cs: ReadonlyArray<{ tenantId: string; queue: string; state: string }>) =>
    cs.some((c) => c.tenantId === tenant && c.queue === SendEmail.queue && c.state === "drained")
  const drained = yield* until(controls.list, isDrained)
  const row = drained.find((c) => c.tenantId === tenant && c.queue === SendEmail.queue)
  const afterDrain = yield* batch("ops-b")
  yield* say(
    `  ${yield* at}  drained (drain_completed_at ${row?.drainCompletedAt?.toISOString() ?? "?"}): ` +
      `${afterDrain.running} running, ${afterDrain.completed} completed, ${afterDrain.waiting} waiting for a resume`
  )
  yield* controls.resume({ ...scope, by: "ops@demo" })
  yield* until(batch("ops-b"), (j) => j.completed === 300)
  yield* say(`  ${yield* at}  resumed: the other ${afterDrain.waiting} ran`)

  const wanted = ["control.paused", "control.resumed", "control.drain_started", "control.drain_completed"]
  yield* until(Effect.sync(() => endpoint.received), (r) => r.filter((a) => a.type === "control.resumed").length >= 2)
  yield* say(
    "  the endpoint received (signature checked on each):",
    ...table(
      [{ header: "after", align: "right" }, { header: "event" }, { header: "verified" }, { header: "scope" }, { header: "by" }],
      endpoint.received.filter((a) => wanted.includes(a.type)).map((a) => [
        `+${ms(a.at - t0)}`,
        a.type,
        a.verified ? "yes" : "NO",
        `${String(a.data["tenantId"] ?? "")}/${String(a.data["queue"] ?? "")}`,
        String(a.data["by"] ?? a.data["actor"] ?? "")
      ]),
      "    "
    )
  )
  const audit = yield* controls.events({ ...scope, limit: 10 })
  yield* say(
    "  the scope's audit trail (redrive.control_event):",
    ...table(
      [{ header: "action" }, { header: "from" }, { header: "by" }, { header: "reason", max: 40 }],
      [...audit].reverse().map((e) => [e.action, e.previousState ?? "", e.actor, e.reason ?? ""]),
      "    "
    )
  )
  yield* channels.remove(channel.id, { by: "demo" })
}).pipe(Effect.scoped)
