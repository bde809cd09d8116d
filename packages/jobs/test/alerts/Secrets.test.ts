/**
 * Channel secrets (a webhook's signing key, a Slack URL's token) never show: not in the logs of
 * a failing dispatcher (captured with a test Logger), not in the recorded tries, not in any read
 * through the AlertChannel model (JSON variants leave it out; other variants hold a Redacted).
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { AlertChannel } from "@redrive/database"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect, Redacted, Schema } from "effect"
import * as Dispatcher from "../../src/alerts/Dispatcher.js"
import { attemptsOf, captureLogs, channel, newSecret, outbox } from "./alertFixtures.js"

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("alert secrets", (it) => {
  it.scoped("a failing webhook and Slack channel log and record their failures without their secret or token", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const secret = newSecret()
      const token = `T000/B000/${Factory.unique("xoxtoken")}`
      // An endpoint that answers 500 and echoes what it got: the path (Slack's token) and headers.
      const echoing = http.createServer((req, res) => {
        res.writeHead(500).end(`bad request to ${req.url ?? ""} signed ${String(req.headers["webhook-signature"])}`)
      })
      yield* Effect.acquireRelease(
        Effect.async<number>((resume) => {
          echoing.listen(0, "127.0.0.1", () => resume(Effect.succeed((echoing.address() as AddressInfo).port)))
        }),
        () => Effect.async<void>((resume) => { echoing.closeAllConnections(); echoing.close(() => resume(Effect.void)) })
      ).pipe(Effect.flatMap((port) =>
        Effect.gen(function*() {
          const tenantId = Factory.tenant()
          const hook = yield* channel({ tenantId, url: `http://127.0.0.1:${port}/hook`, secret })
          const slack = yield* channel({ tenantId, kind: "slack", url: `http://127.0.0.1:${port}/services/${token}` })
          const dead = yield* channel({ tenantId, url: `http://127.0.0.1:1/refused`, secret })
          const ids = [
            yield* outbox({ channelId: hook, tenantId }),
            yield* outbox({ channelId: slack, tenantId }),
            yield* outbox({ channelId: dead, tenantId })
          ]
          const { lines } = yield* captureLogs(Dispatcher.runOnce({ maxAttempts: 1 }))
          const logs = lines.join("\n")
          // One warning per failing channel, naming it (never its URL or secret).
          assert.strictEqual(lines.filter((l) => l.includes("is failing: 1 failed, 1 out of tries")).length, 3, logs)
          for (const hidden of [secret, secret.slice(6), token, "/services/"]) assert.notInclude(logs, hidden)
          for (const id of ids) {
            const [t] = yield* attemptsOf(id)
            assert.strictEqual(t?.outcome, "failed")
            assert.notInclude(t?.error ?? "", token)
            assert.notInclude(t?.error ?? "", secret)
          }
          // The Slack endpoint echoed the token: the recorded error has it redacted.
          const [slackTry] = yield* attemptsOf(ids[1]!)
          assert.include(slackTry!.error ?? "", "[redacted]")
          const [stored] = yield* sql<{ text: string }>`
            select string_agg(x, ' ') as text from (
              select d::text as x from redrive.alert_delivery d where d.tenant_id = ${tenantId}
              union all select a::text from redrive.alert_attempt a where a.tenant_id = ${tenantId}
              union all select b::text from redrive.alert_backlog b where b.tenant_id = ${tenantId}) s`
          assert.notInclude(stored!.text, token)
          assert.notInclude(stored!.text, secret)
        })
      ))
    }))

  it.scoped("reads through the AlertChannel model never return the secret", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const secret = newSecret()
      const tenantId = Factory.tenant()
      const id = yield* channel({ tenantId, url: "https://hooks.example.com/x", secret, events: ["job.dead_lettered"] })
      const [raw] = yield* sql`select * from redrive.alert_channel where id = ${id}`
      const row = yield* Schema.decodeUnknown(AlertChannel.AlertChannel)(raw)
      // The select variant holds it redacted: printing, JSON and logging the row hide it.
      assert.isTrue(row.secret !== null && Redacted.value(row.secret) === secret)
      assert.notInclude(JSON.stringify(row), secret)
      assert.notInclude(String(row), secret)
      const { lines } = yield* captureLogs(Effect.logInfo("channel", row).pipe(Effect.annotateLogs({ row })))
      assert.notInclude(lines.join("\n"), secret)
      // The JSON variants (what an API returns) have no secret field at all.
      const json = yield* Schema.encode(AlertChannel.AlertChannel.json)(row)
      assert.notProperty(json, "secret")
      assert.notInclude(JSON.stringify(json), secret)
      assert.strictEqual(json.kind, "webhook")
      assert.notProperty(AlertChannel.AlertChannel.jsonCreate.fields, "secret")
      assert.notProperty(AlertChannel.AlertChannel.jsonUpdate.fields, "secret")
    }))
})
