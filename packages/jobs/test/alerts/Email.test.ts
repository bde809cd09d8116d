/**
 * Email alerts over SMTP (nodemailer) to a real local SMTP server (smtp-server) started by the
 * test: the mail arrives with the expected subject and body, the password is used to log in and
 * is never logged or recorded; a server that refuses the mail is a recorded failure with its reply code.
 */
import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { Factory, TestDatabase } from "@redrive/database/testing"
import { Effect } from "effect"
import { SMTPServer } from "smtp-server"
import type { AddressInfo } from "node:net"
import * as Dispatcher from "../../src/alerts/Dispatcher.js"
import { attemptsOf, captureLogs, channel, deliveryOf, outbox } from "./alertFixtures.js"

interface Mail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly raw: string
}

/** A real SMTP server on 127.0.0.1 (port 0) requiring `user`/`password`; mails to `reject@…` are refused. */
const smtpServer = (user: string, password: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly port: number; readonly mails: Array<Mail>; readonly logins: Array<string>; readonly server: SMTPServer }>((resume) => {
      const mails: Array<Mail> = []
      const logins: Array<string> = []
      const server = new SMTPServer({
        disabledCommands: ["STARTTLS"],
        allowInsecureAuth: true,
        logger: false,
        onAuth(auth, _session, callback) {
          if (auth.username === user && auth.password === password) {
            logins.push(auth.username ?? "")
            return callback(null, { user: auth.username })
          }
          return callback(new Error("invalid credentials"))
        },
        onRcptTo(address, _session, callback) {
          if (address.address.startsWith("reject@")) {
            return callback(Object.assign(new Error("mailbox unavailable"), { responseCode: 550 }))
          }
          return callback()
        },
        onData(stream, session, callback) {
          const chunks: Array<Buffer> = []
          stream.on("data", (c: Buffer) => chunks.push(c))
          stream.on("end", () => {
            mails.push({
              from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
              to: session.envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks).toString("utf8")
            })
            callback()
          })
        }
      })
      server.listen(0, "127.0.0.1", () => {
        resume(Effect.succeed({ port: (server.server.address() as AddressInfo).port, mails, logins, server }))
      })
    }),
    ({ server }) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
  )

/** The mail's header value (unfolded) and its text body. */
const header = (raw: string, name: string) => {
  const [head] = raw.split("\r\n\r\n")
  const match = new RegExp(`^${name}: (.*(?:\\r\\n[ \\t].*)*)`, "mi").exec(head ?? "")
  return match?.[1]?.replace(/\r\n[ \t]/g, " ") ?? ""
}
const bodyOf = (raw: string) => raw.split("\r\n\r\n").slice(1).join("\r\n\r\n").replace(/=\r\n/g, "")

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("email alerts", (it) => {
  it.scoped("a dead letter arrives by email with its subject and body; the SMTP password is used, never logged nor recorded", () =>
    Effect.gen(function*() {
      const password = `pw-${Factory.unique("smtp")}-s3cr3t`
      const smtp = yield* smtpServer("alerts", password)
      const tenantId = Factory.tenant()
      const channelId = yield* channel({
        tenantId,
        kind: "email",
        url: `smtp://alerts@127.0.0.1:${smtp.port}`,
        secret: password,
        recipients: ["oncall@example.com", "billing@example.com"]
      })
      const id = yield* outbox({
        channelId,
        tenantId,
        payload: { dlqId: 7, jobId: 42, tenantId, queue: "billing", type: "charge-card", errorClass: "permanent", reason: "card declined" }
      })
      const { lines, result: pass } = yield* captureLogs(Dispatcher.runOnce())
      assert.strictEqual(pass.delivered, 1)
      assert.deepStrictEqual(smtp.logins, ["alerts"])
      assert.strictEqual(smtp.mails.length, 1)
      const mail = smtp.mails[0]!
      assert.deepStrictEqual(mail.to, ["oncall@example.com", "billing@example.com"])
      assert.strictEqual(mail.from, "redrive@127.0.0.1")
      assert.strictEqual(
        header(mail.raw, "Subject"),
        `[redrive] Dead letter: charge-card (permanent) in tenant ${tenantId}, queue billing`
      )
      const body = bodyOf(mail.raw)
      assert.include(body, "reason: card declined")
      assert.include(body, "jobId: 42")
      assert.include(body, `message id: msg_${id}`)
      const [t] = yield* attemptsOf(id)
      assert.deepInclude(t, { attempt: 1, outcome: "delivered", statusCode: 250 })
      assert.deepInclude(yield* deliveryOf(id), { state: "delivered" })
      assert.notInclude(lines.join("\n"), password)
    }))

  it.scoped("a refused mail is a failed try with the server's reply code; the password stays out of logs and rows", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const password = `pw-${Factory.unique("smtp")}-s3cr3t`
      const smtp = yield* smtpServer("alerts", password)
      const tenantId = Factory.tenant()
      const channelId = yield* channel({
        tenantId,
        kind: "email",
        url: `smtp://alerts@127.0.0.1:${smtp.port}`,
        secret: password,
        recipients: ["reject@example.com"]
      })
      const id = yield* outbox({ channelId, tenantId })
      const { lines } = yield* captureLogs(Dispatcher.runOnce({ maxAttempts: 1 }))
      const [t] = yield* attemptsOf(id)
      assert.deepInclude(t, { outcome: "failed", statusCode: 550 })
      assert.match(t!.error ?? "", /mailbox unavailable/)
      assert.deepInclude(yield* deliveryOf(id), { state: "failed", lastStatus: 550 })
      assert.isTrue(lines.some((l) => l.includes("is failing: 1 failed, 1 out of tries") && l.includes("last status 550")), "the failure was not logged")
      assert.notInclude(lines.join("\n"), password)
      const [stored] = yield* sql<{ text: string }>`
        select (select coalesce(string_agg(d::text, ' '), '') from redrive.alert_delivery d where d.channel_id = ${channelId})
            || (select coalesce(string_agg(a::text, ' '), '') from redrive.alert_attempt a where a.delivery_id = ${id}) as text`
      assert.notInclude(stored!.text, password)
      assert.strictEqual(smtp.mails.length, 0)
    }))
})
