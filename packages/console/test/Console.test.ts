/**
 * The web console in a real headless Chromium (Debian's, driven by playwright-core) against Redrive's
 * server on a fresh test database: the DLQ paged through, a dead letter's history, a replay watched
 * until it has run, a group replayed after its dry run, a tenant paused (its jobs wait) and resumed,
 * what a read-only key and a tenant key can see and do. A screenshot of each page is written to
 * packages/console/test-artifacts/.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import * as ApiKeys from "@redrive/server/auth/ApiKeys"
import { Effect, Layer } from "effect"
import { confirmAction, ConsoleServer, Email, layer as consoleLayer, newKey, screenshot, seedDeadLetters, withPage } from "./consoleFixtures.js"

const TestLayer = Layer.mergeAll(consoleLayer, ApiKeys.layer).pipe(Layer.provideMerge(TestDatabase.layer))

const rows = <A extends object>(query: string) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(query))

const dlqIdsOnPage = (page: import("playwright-core").Page) =>
  page.locator("[data-testid=dead-letters] tbody tr[data-dlq-id]").evaluateAll((trs) =>
    trs.map((tr) => Number(tr.getAttribute("data-dlq-id")))
  )

layer(TestLayer, { excludeTestServices: true, timeout: "240 seconds" })("web console in Chromium", (it) => {
  it.effect("pages through the DLQ, opens a dead letter's history, replays it and sees the replay run", () =>
    Effect.gen(function*() {
      const tenant = Factory.unique("acme")
      const seeded = yield* seedDeadLetters(tenant, 30)
      const key = yield* newKey("console-admin", null)
      const target = seeded[7]!.id
      const seen = yield* withPage(key, async (page, baseUrl) => {
        await page.goto(`${baseUrl}/dead-letters?tenantId=${tenant}`)
        await page.locator("[data-testid=dead-letters] tbody tr[data-dlq-id]").first().waitFor()
        const first = await dlqIdsOnPage(page)
        await screenshot(page, "dead-letters")
        await page.click("[data-testid=next-page]")
        await page.getByText("page 2").waitFor()
        await page.waitForFunction(() => document.querySelectorAll("[data-testid=dead-letters] tbody tr[data-dlq-id]").length === 5)
        const second = await dlqIdsOnPage(page)

        await page.goto(`${baseUrl}/dead-letters/${target}`)
        await page.locator("[data-testid=history] li.entry").first().waitFor()
        const history = await page.locator("[data-testid=history] li.entry").allTextContents()
        const reason = await page.locator("[data-testid=reason]").textContent()
        await screenshot(page, "dead-letter")

        const question = await confirmAction(page, "replay")
        await page.waitForURL(/\/jobs\/\d+$/)
        await page.locator("[data-testid=job-state]", { hasText: "completed" }).waitFor({ timeout: 60_000 })
        await screenshot(page, "job")
        const jobId = Number(new URL(page.url()).pathname.split("/").pop())
        return { first, second, history, reason, question, jobId }
      })
      assert.strictEqual(seen.first.length, 25)
      assert.strictEqual(seen.second.length, 5)
      assert.deepStrictEqual([...seen.first, ...seen.second].sort((a, b) => a - b), seeded.map((d) => d.id).sort((a, b) => a - b))
      // Newest first: ids of one insert order descend down the pages.
      assert.deepStrictEqual(seen.first, [...seen.first].sort((a, b) => b - a))
      assert.strictEqual(seen.history.length, Factory.history3.length)
      assert.include(seen.history.join("\n"), "attempt 1")
      assert.strictEqual(seen.reason, seeded[7]!.errorReason)
      assert.include(seen.question, `Replay dead letter ${target}`)
      const replayed = yield* rows<{ replayJobId: string; replayedBy: string; state: string }>(
        `select d.replay_job_id as "replayJobId", d.replayed_by as "replayedBy", j.state
           from redrive.job_dlq d join redrive.job j on j.id = d.replay_job_id where d.id = ${target}`
      )
      assert.deepStrictEqual(replayed.map((r) => [Number(r.replayJobId), r.replayedBy, r.state]), [[seen.jobId, "key:console-admin", "completed"]])
    }))

  it.effect("replays an error group after showing the dry run's count, then its progress until done", () =>
    Effect.gen(function*() {
      const tenant = Factory.unique("globex")
      const fingerprint = Factory.unique("fp-mailbox")
      yield* seedDeadLetters(tenant, 4, { fingerprint })
      yield* seedDeadLetters(tenant, 2, { fingerprint: Factory.unique("fp-other") })
      const key = yield* newKey("console-globex", tenant)
      const seen = yield* withPage(key, async (page, baseUrl) => {
        await page.goto(`${baseUrl}/groups`)
        const row = `tr[data-group="${fingerprint}"]`
        await page.locator(row).waitFor()
        await screenshot(page, "error-groups")
        const question = await confirmAction(page, "replay-group", row)
        const progress = page.locator(`${row} [data-testid=replay-progress][data-state=done]`)
        await progress.waitFor({ timeout: 60_000 })
        await screenshot(page, "error-groups-replayed")
        return { question, progress: (await progress.textContent()) ?? "" }
      })
      assert.include(seen.question, "Dry run: 4 dead letters would be replayed")
      assert.include(seen.progress, "4 of 4 replayed")
      const jobs = yield* rows<{ n: string }>(
        `select count(*) as n from redrive.job_dlq where tenant_id = '${tenant}' and fingerprint = '${fingerprint}' and replay_job_id is not null`
      )
      assert.strictEqual(Number(jobs[0]!.n), 4)
      const untouched = yield* rows<{ n: string }>(
        `select count(*) as n from redrive.job_dlq where tenant_id = '${tenant}' and fingerprint <> '${fingerprint}' and replay_job_id is null`
      )
      assert.strictEqual(Number(untouched[0]!.n), 2)
    }))

  it.effect("pauses a tenant (its jobs wait), resumes it (they run); both audited under the key's name", () =>
    Effect.gen(function*() {
      const tenant = Factory.unique("initech")
      const key = yield* newKey("console-initech", tenant)
      yield* withPage(key, async (page, baseUrl) => {
        await page.goto(`${baseUrl}/controls`)
        await page.fill("input[name=reason]", "mail provider maintenance")
        await confirmAction(page, "pause")
        await page.locator("[data-testid=control-message]", { hasText: "Paused" }).waitFor()
        await page.locator(`[data-testid=controls] tr[data-scope="${tenant}/*"]`).waitFor()
      })
      const inserted = yield* Factory.insertJob({
        tenantId: Factory.tenant(tenant),
        queue: Factory.queue(Email.queue),
        type: Factory.jobType(Email.name),
        payload: { to: "waiting@example.com" }
      })
      const seen = yield* withPage(key, async (page, baseUrl) => {
        await page.goto(`${baseUrl}/jobs/${inserted.id}`)
        await page.locator("[data-testid=job-state]").waitFor()
        // The worker polls every 200 ms: three seconds of a paused scope is fifteen claims that skip it.
        await page.waitForTimeout(3000)
        await page.reload()
        const whilePaused = (await page.locator("[data-testid=job-state]").textContent()) ?? ""
        await page.goto(`${baseUrl}/controls`)
        await page.locator(`[data-testid=controls] tr[data-scope="${tenant}/*"]`).waitFor()
        await screenshot(page, "controls")
        await confirmAction(page, "resume")
        await page.locator("[data-testid=control-message]", { hasText: "Resumed" }).waitFor()
        await page.goto(`${baseUrl}/jobs/${inserted.id}`)
        await page.locator("[data-testid=job-state]", { hasText: "completed" }).waitFor({ timeout: 60_000 })
        await page.goto(`${baseUrl}/controls`)
        await page.locator("[data-testid=audit] tbody tr").nth(1).waitFor()
        const audit = await page.locator("[data-testid=audit] tbody tr").allTextContents()
        // The overview's throughput chart counts the job once the worker flushes its counts (every 5 s).
        let throughput = ""
        for (let tries = 0; tries < 20 && !throughput.includes("completed: 1 "); tries++) {
          await page.goto(`${baseUrl}/`)
          // Once its data is in: while the request is in flight the chart says "loading…".
          await page.locator("[data-testid=throughput-chart][aria-busy=false] canvas").waitFor()
          throughput = (await page.locator("[data-testid=throughput-chart] figcaption").textContent()) ?? ""
          if (!throughput.includes("completed: 1 ")) await page.waitForTimeout(1000)
        }
        return { whilePaused, audit, throughput }
      })
      assert.strictEqual(seen.whilePaused, "available")
      // A tenant key's chart counts its own tenant only: this test's one job.
      assert.include(seen.throughput, "completed: 1 ·")
      assert.isTrue(seen.audit.some((r) => r.includes("pause") && r.includes("key:console-initech") && r.includes("mail provider maintenance")))
      assert.isTrue(seen.audit.some((r) => r.includes("resume") && r.includes("key:console-initech")))
      const events = yield* rows<{ action: string; actor: string }>(
        `select action, actor from redrive.control_event where tenant_id = '${tenant}' order by id`
      )
      assert.deepStrictEqual(events.map((e) => [e.action, e.actor]), [["pause", "key:console-initech"], ["resume", "key:console-initech"]])
    }), 90_000) // a 3 s pause, the resumed job's run and the throughput flush (every 5 s): over 30 s on a loaded machine

  it.effect("a read-only tenant key sees its own tenant only and cannot act: buttons disabled, the server refuses", () =>
    Effect.gen(function*() {
      const mine = Factory.unique("umbrella")
      const theirs = Factory.unique("cyberdyne")
      const [own] = yield* seedDeadLetters(mine, 1)
      yield* seedDeadLetters(theirs, 3)
      const key = yield* newKey("console-reader", mine, "read")
      const { baseUrl } = yield* ConsoleServer
      const seen = yield* withPage(key, async (page) => {
        await page.goto(`${baseUrl}/dead-letters`)
        await page.locator("[data-testid=dead-letters] tbody tr[data-dlq-id]").first().waitFor()
        const ids = await dlqIdsOnPage(page)
        const tenants = await page.locator("[data-testid=dead-letters] tbody tr td:nth-child(3)").allTextContents()
        await page.goto(`${baseUrl}/dead-letters/${own!.id}`)
        await page.locator("[data-testid=history]").waitFor()
        const replayDisabled = await page.locator("[data-testid=replay]").isDisabled()
        const who = (await page.locator("[data-testid=who]").textContent()) ?? ""
        await page.goto(`${baseUrl}/controls`)
        await page.locator("[data-testid=pause]").waitFor()
        const pauseDisabled = await page.locator("[data-testid=pause]").isDisabled()
        // The server is the wall, not the buttons: the same request from the page is refused.
        const refused = await page.evaluate(
          async ([url, k]) =>
            (await fetch(url, { method: "POST", headers: { authorization: `Bearer ${k}`, "content-type": "application/json" }, body: "{}" })).status,
          [`${baseUrl}/v1/dead-letters/${own!.id}/replay`, key] as const
        )
        return { ids, tenants, replayDisabled, who, pauseDisabled, refused }
      })
      assert.deepStrictEqual(seen.ids, [own!.id])
      assert.deepStrictEqual([...new Set(seen.tenants)], [mine])
      assert.isTrue(seen.replayDisabled)
      assert.isTrue(seen.pauseDisabled)
      assert.include(seen.who, "read-only")
      assert.strictEqual(seen.refused, 403)
      const replayed = yield* rows<{ n: string }>(`select count(*) as n from redrive.job where replay_of = ${own!.id}`)
      assert.strictEqual(Number(replayed[0]!.n), 0)
    }))

  it.effect("an admin sees every tenant's health and can switch tenant; alert channels show no secret; a test alert is queued", () =>
    Effect.gen(function*() {
      const a = Factory.unique("hooli")
      const b = Factory.unique("piedpiper")
      yield* seedDeadLetters(a, 2)
      yield* seedDeadLetters(b, 1)
      const key = yield* newKey("console-ops", null)
      const secret = `whsec_${Buffer.from("console-test-signing-key-0123456").toString("base64")}`
      const { baseUrl } = yield* ConsoleServer
      const created = yield* Effect.promise(() =>
        fetch(`${baseUrl}/v1/alert-channels`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "ops-hook", kind: "webhook", url: "https://hooks.example.com/T000/secret-path", secret })
        }).then((r) => r.status)
      )
      assert.strictEqual(created, 201)
      const seen = yield* withPage(key, async (page) => {
        await page.goto(`${baseUrl}/`)
        await page.locator("[data-testid=queue-health] tbody tr", { hasText: a }).waitFor()
        await page.locator(".chart canvas").first().waitFor()
        const all = await page.locator("[data-testid=queue-health] tbody tr").allTextContents()
        await screenshot(page, "overview")
        await page.selectOption("[data-testid=tenant-select]", b)
        await page.waitForFunction(
          (t) => {
            const trs = [...document.querySelectorAll("[data-testid=queue-health] tbody tr")]
            return trs.length > 0 && trs.every((tr) => tr.textContent?.includes(t))
          },
          b
        )
        const one = await page.locator("[data-testid=queue-health] tbody tr").allTextContents()
        await page.selectOption("[data-testid=tenant-select]", "")
        await page.goto(`${baseUrl}/alerts`)
        await page.locator("[data-testid=channels] tbody tr", { hasText: "ops-hook" }).waitFor()
        const question = await confirmAction(page, "send-test")
        await page.locator("[data-testid=deliveries] tbody tr", { hasText: "alert.test" }).waitFor()
        await screenshot(page, "alerts")
        return { all, one, question, html: await page.content() }
      })
      assert.isTrue(seen.all.some((r) => r.includes(a)) && seen.all.some((r) => r.includes(b)))
      assert.isTrue(seen.one.length >= 1 && seen.one.every((r) => r.includes(b)))
      assert.include(seen.question, "Send a test alert to ops-hook")
      assert.notInclude(seen.html, secret)
      assert.notInclude(seen.html, "secret-path")
    }))

  it.effect("replays with an edited payload: JSON checked in the page, the type's Schema refusal shown on the field, a fixed payload runs", () =>
    Effect.gen(function*() {
      const tenant = Factory.unique("wayne")
      const [dlq] = yield* seedDeadLetters(tenant, 1)
      const key = yield* newKey("console-editor", tenant)
      const seen = yield* withPage(key, async (page, baseUrl) => {
        await page.goto(`${baseUrl}/dead-letters/${dlq!.id}`)
        const payload = page.locator("[data-testid=payload]")
        await payload.waitFor()
        await payload.fill("{\"to\": ")
        const notJson = await page.locator(".field-error").textContent()
        const disabledWhileBroken = await page.locator("[data-testid=replay-edited]").isDisabled()
        await payload.fill(JSON.stringify({ to: "nobody" }))
        await confirmAction(page, "replay-edited")
        const refusal = (await page.locator("[data-testid=payload-error]").textContent()) ?? ""
        await payload.fill(JSON.stringify({ to: "fixed@example.com" }))
        await confirmAction(page, "replay-edited")
        await page.waitForURL(/\/jobs\/\d+$/)
        await page.locator("[data-testid=job-state]", { hasText: "completed" }).waitFor({ timeout: 60_000 })
        const ran = (await page.locator("pre.json").textContent()) ?? ""
        return { notJson, disabledWhileBroken, refusal, ran }
      })
      assert.include(seen.notJson ?? "", "Not JSON")
      assert.isTrue(seen.disabledWhileBroken)
      assert.include(seen.refusal, "to: ")
      assert.include(seen.refusal, "expected an email address")
      assert.include(seen.ran, "fixed@example.com")
      const jobs = yield* rows<{ payload: unknown }>(`select payload from redrive.job where replay_of = ${dlq!.id}`)
      assert.deepStrictEqual(jobs.map((j) => j.payload), [{ to: "fixed@example.com" }])
    }))

  it.effect("drains a tenant's queue: the scope shows draining until the drain completes, then drained; resumed after", () =>
    Effect.gen(function*() {
      const tenant = Factory.unique("stark")
      const key = yield* newKey("console-stark", tenant)
      const seen = yield* withPage(key, async (page, baseUrl) => {
        await page.goto(`${baseUrl}/controls`)
        await page.fill("input[name=queue]", Email.queue)
        await confirmAction(page, "drain")
        await page.locator("[data-testid=control-message]", { hasText: "Draining" }).waitFor()
        const row = page.locator(`[data-testid=controls] tr[data-scope="${tenant}/${Email.queue}"]`)
        // Nothing runs in the scope, so the leader's drain watcher (1 s) completes it; the page polls every 2 s.
        await row.locator(".state", { hasText: "drained" }).waitFor({ timeout: 30_000 })
        const drained = (await row.textContent()) ?? ""
        await confirmAction(page, "resume")
        await page.locator("[data-testid=control-message]", { hasText: "Resumed" }).waitFor()
        await page.locator(`[data-testid=controls] tr[data-scope="${tenant}/${Email.queue}"]`).waitFor({ state: "detached" })
        const audit = await page.locator("[data-testid=audit] tbody tr").allTextContents()
        return { drained, audit }
      })
      assert.include(seen.drained, "key:console-stark")
      const actions = yield* rows<{ action: string; actor: string }>(
        `select action, actor from redrive.control_event where tenant_id = '${tenant}' order by id`
      )
      assert.deepStrictEqual(actions.map((e) => e.action), ["drain", "drain_completed", "resume"])
      assert.strictEqual(actions[0]!.actor, "key:console-stark")
      assert.strictEqual(actions[2]!.actor, "key:console-stark")
      assert.isTrue(seen.audit.some((r) => r.includes("drain_completed")))
    }))
})
