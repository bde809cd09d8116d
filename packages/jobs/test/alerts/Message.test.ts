/**
 * What an alert says for the events without a payload of their own shape: a test alert says it
 * is one (and that nothing is wrong), control events name their scope and actor, and an event
 * Redrive does not know still renders as its name, scope and fields, in every channel's layout.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Email from "../../src/alerts/Email.js"
import type { Alert } from "../../src/alerts/Message.js"
import * as Message from "../../src/alerts/Message.js"
import * as Slack from "../../src/alerts/Slack.js"
import * as Webhook from "../../src/alerts/Webhook.js"

const at = new Date("2026-11-30T09:00:00.000Z")
const alert = (event: string, payload: Record<string, unknown>, tenantId: string | null = "acme"): Alert =>
  ({ id: "42", event, tenantId, payload, at, digest: null })

describe("alert messages", () => {
  it("a test alert names the channel and who sent it, and says nothing is wrong", () => {
    const test = alert("alert.test", { channelId: 7, channel: "ops-hook", kind: "webhook", by: "dave", tenantId: "acme" })
    const text = Message.text(test)
    assert.strictEqual(text.title, "[redrive] Test alert for channel ops-hook, sent by dave")
    assert.match(text.lines[0]!, /test alert .* nothing is wrong/)
    assert.include(text.lines, "channel: ops-hook")
    const slack = Slack.blocks(test)
    assert.strictEqual(slack.blocks[0]!.text!.text, text.title)
    assert.include(slack.blocks[1]!.text!.text, "nothing is wrong")
    const mail = Email.mail(test)
    assert.strictEqual(mail.subject, text.title)
    assert.include(mail.text, "event: alert.test")
    assert.deepInclude(JSON.parse(Webhook.body(test)), { type: "alert.test", summary: text.title })
  })

  it("control events name the scope (every … for *), the actor and the reason", () => {
    const paused = alert("control.paused", { tenantId: "acme", queue: "*", type: "*", reason: "incident 12", actor: "alice" })
    assert.strictEqual(
      Message.text(paused).title,
      "[redrive] Paused: tenant acme, every queue, every type by alice (incident 12)"
    )
    const drained = alert("control.drain_completed", { tenantId: "*", queue: "mail", type: "*", reason: null, actor: "bob" })
    assert.strictEqual(Message.text(drained).title, "[redrive] Drained: every tenant, queue mail, every type by bob")
  })

  it("an unknown event renders as its name, scope and fields", () => {
    const text = Message.text(alert("billing.overdue", { tenantId: "acme", queue: "invoices", amount: 12 }))
    assert.strictEqual(text.title, "[redrive] billing.overdue in tenant acme, queue invoices")
    assert.include(text.lines, "amount: 12")
  })
})
