/**
 * `pnpm demo`: Redrive's failure path in a dozen seconds. On DATABASE_URL, or the embedded
 * default: migrate, enqueue 1000 jobs of three types for tenant `demo`, run one worker while
 * they succeed, retry (503s, 429s with Retry-After) and dead-letter (bad addresses, a crashing
 * invoice renderer), inspect the DLQ, ship a fix, bulk-replay the invoices, take a partner API
 * down (its type's circuit opens, probes, re-opens, closes) and sum it all up from the database.
 * The scenario's parts (job types, handlers, fake APIs) live beside it; `bin/demo.ts` and
 * `redrive demo` run it.
 */
import { Database, DatabaseUrl, Ids, MigrationRunner, Roles } from "@redrive/database"
import { AlertChannels, CircuitBreaker, Controls, Enqueue, type JobDefinition, JobRegistry, Replay, Worker } from "@redrive/jobs"
import { Clock, Console, Duration, Effect, Layer, Redacted, Schema } from "effect"
import * as Apis from "./apis.js"
import { definitions, NotifyPartner, RenderInvoice, SendEmail, SyncContact, tenant } from "./definitions.js"
import { ms, money, percent, seconds, stackHead, table } from "./format.js"
import { handlers, notifyPartner } from "./handlers.js"
import * as Queries from "./queries.js"
import { operate } from "./operate.js"
import { serveDemo } from "./serveDemo.js"
import * as ApiKeys from "../auth/ApiKeys.js"
import * as Workload from "./workload.js"

const say = (...lines: ReadonlyArray<string>) => Console.log(lines.join("\n"))
const elapsedSince = (t0: number) => Effect.map(Clock.currentTimeMillis, (now) => now - t0)

const migrate = Effect.gen(function*() {
  const justApplied = yield* MigrationRunner.up()
  const status = yield* MigrationRunner.status()
  const applied = status.filter((s) => s.state === "applied").length
  const pending = status.length - applied
  yield* say(
    `migrations: ${applied} applied${justApplied.length > 0 ? ` (${justApplied.length} just now)` : ""}, ` +
      (pending === 0 ? "up to date" : `${pending} pending`)
  )
})

const backoff = (d: JobDefinition.AnyJobDefinition) => {
  const b = d.retry.backoff
  return `${ms(Duration.toMillis(b.base))}·${b.factor}^n ≤ ${ms(Duration.toMillis(b.max))}, ${b.jitter} jitter`
}

/** What each type's policy does beyond the backoff (its class rules, as the demo uses them). */
const classRules = {
  [SendEmail.name]: "validation: dead-lettered at once",
  [RenderInvoice.name]: "a crash is retried like any unknown error",
  [SyncContact.name]: `rate_limit: up to ${SyncContact.retry.rateLimit.maxWaits} waits for Retry-After, no attempt used`
}

const enqueueAll = Effect.gen(function*() {
  const t0 = yield* Clock.currentTimeMillis
  const options = { tenantId: tenant }
  // One INSERT per type, whatever the number of jobs.
  const counts = [
    (yield* Enqueue.many(SendEmail, Workload.emails, options)).length,
    (yield* Enqueue.many(RenderInvoice, Workload.invoices, options)).length,
    (yield* Enqueue.many(SyncContact, Workload.contacts, options)).length
  ]
  const took = yield* elapsedSince(t0)
  yield* say(
    ...table(
      [
        { header: "type" },
        { header: "jobs", align: "right" },
        { header: "queue" },
        { header: "attempts", align: "right" },
        { header: "backoff" },
        { header: "class rules" }
      ],
      definitions.map((d, i) => [d.name, counts[i]!, d.queue, d.retry.maxAttempts, backoff(d), classRules[d.name] ?? ""])
    ),
    `  ${counts.reduce((a, b) => a + b, 0)} jobs enqueued in ${ms(took)} (Enqueue.many: one statement per type); ` +
      `the CRM allows ${Apis.crmRatePerSecond} calls/s`
  )
})

/**
 * Polls the demo tenant's counts until nothing is waiting, running or due for a retry;
 * prints them every `everyMillis` (never when undefined).
 */
const untilDrained = (t0: number, everyMillis?: number) =>
  Effect.gen(function*() {
    const columns = [
      { header: "elapsed", align: "right" },
      { header: "completed", align: "right" },
      { header: "waiting", align: "right" },
      { header: "running", align: "right" },
      { header: "retrying", align: "right" },
      { header: "dead-lettered", align: "right" }
    ] as const
    const row = (elapsed: number, p: Queries.Progress) =>
      table(columns, [[seconds(elapsed), p.completed, p.waiting, p.running, p.retrying, p.deadLettered]])[1]!
    if (everyMillis !== undefined) yield* say(table(columns, [])[0]!)
    let printed = 0
    for (;;) {
      yield* Effect.sleep("100 millis")
      const p = yield* Queries.progress
      const elapsed = yield* elapsedSince(t0)
      const drained = p.waiting + p.running + p.retrying === 0
      if (everyMillis !== undefined && (drained || elapsed - printed >= everyMillis)) {
        yield* say(row(elapsed, p))
        printed = elapsed
      }
      if (drained) return elapsed
    }
  })

const showDlq = Effect.gen(function*() {
  const groups = yield* Queries.dlqGroups
  yield* say(
    ...table(
      [{ header: "count", align: "right" }, { header: "class" }, { header: "type" }, { header: "fingerprint" }, {
        header: "sample reason",
        max: 60
      }],
      groups.map((g) => [g.count, g.errorClass, g.type, g.fingerprint, g.sample])
    ),
    "  (a fingerprint hashes type, class, tag and message with numbers, ids and hex masked)"
  )
  const dead = yield* Queries.firstDeadLetter(RenderInvoice.name)
  if (dead === undefined) return
  const invoice = yield* Schema.decodeUnknown(RenderInvoice.payload)(dead.payload)
  yield* say(
    "",
    `  dead letter #${dead.id} (job ${dead.jobId}): invoice ${invoice.invoiceId}, ${
      money(invoice.amountCents, invoice.currency)
    }, ${dead.attempts} attempts`
  )
  const attempts = dead.errorHistory.flatMap((e) => (e.kind === "dropped" ? [] : [e]))
  yield* say(
    ...table(
      [
        { header: "attempt", align: "right" },
        { header: "kind" },
        { header: "class" },
        { header: "tag" },
        { header: "message", max: 52 },
        { header: "took", align: "right" },
        { header: "next run" }
      ],
      attempts.map((e) => [
        e.attempt,
        e.kind,
        e.errorClass,
        e.tag,
        e.message,
        e.durationMs === undefined ? "" : ms(e.durationMs),
        e.nextRunAt === undefined ? "→ DLQ" : `+${ms(e.nextRunAt.getTime() - e.at.getTime())}`
      ])
    )
  )
  const stack = attempts.find((e) => e.stack !== undefined)?.stack
  if (stack !== undefined) {
    yield* say("  stack (stored with every attempt), first lines:", ...stackHead(stack, 3, process.cwd()).map((l) => `  ${l}`))
  }
})

const fixAndReplay = Effect.gen(function*() {
  const renderer = yield* Apis.InvoiceRenderer
  const replay = yield* Replay.Replay
  yield* renderer.fixCreditNotes
  yield* say("  fix deployed: negative amounts now render as credit notes")
  const bulk = {
    filter: { tenantId: Ids.TenantId.make(tenant), type: Ids.JobType.make(RenderInvoice.name) },
    scopeTenant: Ids.TenantId.make(tenant),
    requestedBy: "demo"
  }
  const dry = yield* replay.createBulk({ ...bulk, dryRun: true })
  yield* say(`  dry run: ${dry.matched} dead letters match { tenantId: "${tenant}", type: "${RenderInvoice.name}" }`)
  const t0 = yield* Clock.currentTimeMillis
  const request = yield* replay.createBulk({ ...bulk, dryRun: false })
  const run = yield* replay.runBulk(request.id, "demo")
  yield* say(`  replay request ${request.id}: ${run.request.state}, ${run.request.replayed} replayed as new jobs`)
  const took = yield* untilDrained(t0)
  const outcome = yield* Queries.replayOutcome
  yield* say(
    `  ${outcome.completed} of ${outcome.replayed} replayed invoices completed, ${outcome.deadAgain} failed again (${
      ms(took)
    })`
  )
})

const breakerSettings = (d: JobDefinition.AnyJobDefinition) => {
  const b = d.circuitBreaker
  if (b === undefined) return "none"
  return `opens when ≥ ${percent(b.failureRatio)} of ≥ ${b.minAttempts} attempts in ${ms(b.windowMs)} fail with ` +
    `${b.tripOn.join(" or ")}; cool-down ${ms(b.cooldownMs)} doubling to ≤ ${ms(b.maxCooldownMs)}; ${b.probes} probes`
}

const stateNames = { closed: "CLOSED", open: "OPEN", half_open: "HALF-OPEN" } as const

/**
 * A dependency outage: the partner API goes down, the type's circuit opens and its jobs wait
 * (paused, attempts intact) while a few probes test the partner after each cool-down; when the
 * partner is back the probes succeed, the circuit closes and every job completes.
 */
const outage = Effect.gen(function*() {
  const partner = yield* Apis.PartnerApi
  const type = NotifyPartner.name
  yield* say(`  ${type}: ${Workload.orders.length} order notifications; circuit breaker: ${breakerSettings(NotifyPartner)}`)
  yield* partner.goDown
  const t0 = yield* Clock.currentTimeMillis
  yield* say(`  ${seconds(0)}  the partner API goes down: every call waits, then answers 503 (external_api)`)
  yield* Enqueue.many(NotifyPartner, Workload.orders, { tenantId: tenant })

  const jobsLine = (j: Queries.TypeJobs) =>
    `${j.completed} completed, ${j.paused} waiting paused, ${j.available + j.running} available or running; ` +
    `attempts used: ${j.attempts} in all, at most ${j.maxAttempt} by one job (of ${NotifyPartner.retry.maxAttempts})`
  yield* Effect.scoped(Effect.gen(function*() {
    // The breaker passes every 200 ms here (default 1 s) so the story fits in a few seconds.
    yield* Layer.buildWithScope(
      Worker.layer({
        handlers: [notifyPartner],
        concurrency: 10,
        batchSize: 50,
        pollInterval: 50,
        keepCompleted: true,
        shutdownGrace: "2 seconds",
        maintenance: { circuitBreaker: { interval: "200 millis" }, electionInterval: "500 millis" }
      }),
      yield* Effect.scope
    )
    let seen = "closed:0"
    let back = false
    for (;;) {
      yield* Effect.sleep("50 millis")
      const elapsed = yield* elapsedSince(t0)
      const circuit = (yield* CircuitBreaker.list).find((c) => c.type === type)
      const jobs = yield* Queries.typeJobs(type)
      // A transition is shown once its jobs have moved (paused, or back).
      if (circuit !== undefined && circuit.moving === null && `${circuit.state}:${circuit.probesReleased}` !== seen) {
        seen = `${circuit.state}:${circuit.probesReleased}`
        const detail = circuit.state === "open"
          ? `${circuit.reopens === 0 ? "" : "re-opened: a probe failed; "}the type is paused, probes in ${
            ms(circuit.cooldownMs ?? 0)
          }`
          : circuit.state === "half_open"
          ? circuit.probesReleased === 0
            ? "the cool-down is over; probes from the next second"
            : `${circuit.probesReleased} waiting jobs released as probes`
          : "the probes succeeded: the type's waiting jobs are available again"
        yield* say(`  ${seconds(elapsed)}  circuit ${stateNames[circuit.state]}: ${detail}`, `          jobs: ${jobsLine(jobs)}`)
      }
      if (!back && (circuit?.reopens ?? 0) >= 1) {
        back = true
        yield* partner.comeBack
        yield* say(`  ${seconds(elapsed)}  the partner API is back`)
      }
      if (jobs.completed + jobs.deadLettered === Workload.orders.length) {
        yield* say(`  ${seconds(elapsed)}  every job settled: ${jobsLine(jobs)}`)
        return
      }
    }
  }))
  const completed = yield* Queries.attemptsOfCompleted(type)
  yield* say(
    `  completed on attempt: ${completed.map((c) => `#${c.attempt} × ${c.jobs}`).join(", ")}`,
    "  the type's audit trail (redrive.control_event; a circuit.opened/closed alert is written with each for",
    "  every global alert channel):",
    ...table(
      [{ header: "at", align: "right" }, { header: "action" }, { header: "from" }, { header: "reason" }, { header: "by" }],
      (yield* Queries.typeAudit(type)).map((e) => [
        `+${seconds(e.at.getTime() - t0)}`,
        e.action,
        e.previousState ?? "",
        e.reason ?? "",
        e.actor
      ]),
      "    "
    )
  )
})

const showStuckEmails = Effect.gen(function*() {
  const emails = yield* Queries.stuckEmails
  const shown = 5
  yield* say(
    `  ${emails.length} emails remain: their addresses are wrong, so a retry would fail the same way`,
    ...table(
      [{ header: "dlq id", align: "right" }, { header: "to" }, { header: "reason" }],
      emails.slice(0, shown).map((e) => [`#${e.id}`, e.to, e.reason])
    ),
    ...(emails.length > shown ? [`  … and ${emails.length - shown} more`] : [])
  )
})

const summary = (started: number) =>
  Effect.gen(function*() {
    const stats = yield* Queries.failureStats
    yield* say(
      ...table(
        [
          { header: "type" },
          { header: "class" },
          { header: "failed attempts", align: "right" },
          { header: "dead-lettered", align: "right" },
          { header: "recovered", align: "right" },
          { header: "retry success", align: "right" }
        ],
        stats.map((s) => [s.type, s.errorClass, s.failures, s.deadLettered, s.recovered, percent(s.successRate)])
      )
    )
    const t = yield* Queries.totals
    const wall = yield* elapsedSince(started)
    yield* say(
      "",
      ...table([{ header: "" }, { header: "", align: "right" }, { header: "" }], [
        ["jobs enqueued", t.enqueued, ""],
        ["completed", t.completed, `${t.firstTry} first try, ${t.afterRetries} after retries, ${t.recovered} after replay`],
        ["retried attempts", t.retriedAttempts, "failed attempts that were tried again"],
        ["dead-lettered", t.deadLettered, ""],
        ["replayed / recovered", `${t.replayed} / ${t.recovered}`, ""],
        ["DLQ remaining", t.dlqRemaining, ""],
        ["wall time", seconds(process.uptime() * 1000), `since the process started (${seconds(wall)} after loading modules)`]
      ]).slice(1)
    )
  })

const scenario = (started: number) =>
  Effect.gen(function*() {
    yield* Queries.resetTenant
    yield* say(`tenant "${tenant}": previous run's jobs, dead letters and counters cleared`, "", "1. enqueue")
    yield* enqueueAll

    yield* Effect.scoped(Effect.gen(function*() {
      const worker = { handlers, concurrency: 150, batchSize: 100, pollInterval: 50 } as const
      // keepCompleted: finished jobs stay as `completed` rows, so the summary counts them from the table.
      yield* Layer.buildWithScope(
        Worker.layer({ ...worker, keepCompleted: true, shutdownGrace: "2 seconds" }),
        yield* Effect.scope
      )
      yield* say(
        "",
        `2. one worker: up to ${worker.concurrency} jobs at once, claims of up to ${worker.batchSize}, ` +
          `LISTEN/NOTIFY + poll every ${ms(worker.pollInterval)}; it also runs the rescuer (maintenance leader)`
      )
      const took = yield* untilDrained(yield* Clock.currentTimeMillis, 500)
      yield* say(`  drained in ${seconds(took)}`)

      yield* say("", "3. dead-letter queue, by error class and fingerprint")
      yield* showDlq

      yield* say("", `4. fix the invoice renderer, then bulk-replay its dead letters`)
      yield* fixAndReplay
    }))

    yield* say("", "5. a dependency goes down: the circuit breaker pauses its job type instead of burning attempts")
    yield* outage

    yield* say("", "6. still in the DLQ — needs a data fix, not a retry")
    yield* showStuckEmails

    yield* say("", "7. summary (from redrive.failure_stats, job and job_dlq)")
    yield* summary(started)

    yield* say("", "8. operate it: an alert channel, a pause, a resume and a drain")
    yield* operate
  })

export interface DemoOptions {
  /** Keep serving the demo's data on this port after the scenario (serveDemo.ts). */
  readonly serve?: { readonly port: number }
}

/** The whole demo; needs FileSystem/Path (NodeContext) for the migrations. */
export const run = (options: DemoOptions = {}) => Effect.gen(function*() {
  const started = yield* Clock.currentTimeMillis
  const db = yield* DatabaseUrl.resolveDatabase
  const where = new URL(Redacted.value(db.url))
  yield* say(`Redrive demo — database ${db.embedded ? "(embedded) " : ""}${where.host}${where.pathname}`)
  // Migrations run as the administrator; the demo itself runs as the runtime role, as a service would.
  yield* Effect.zipRight(migrate, db.embedded ? Roles.shareAdminPassword(db.url) : Effect.void).pipe(
    Effect.provide(Database.layer({ url: db.url, maxConnections: 2, applicationName: "redrive-demo-migrate", administrator: true })),
    Effect.scoped
  )
  const replay = Replay.layer({ batchSize: 100 }).pipe(Layer.provide(JobRegistry.layer(definitions)))
  const database = { url: Roles.localRuntimeUrl(db.url), maxConnections: 8, applicationName: "redrive-demo" }
  const services = Layer.mergeAll(Apis.layer, replay, Controls.layer(), AlertChannels.layer, ApiKeys.layer).pipe(
    Layer.provideMerge(Database.layer(database))
  )
  yield* Effect.gen(function*() {
    yield* scenario(started)
    if (options.serve !== undefined) yield* serveDemo({ database, port: options.serve.port })
  }).pipe(Effect.provide(services))
}).pipe(Effect.scoped)

export const program = run()
