/**
 * The Slack channel: the alert as Block Kit (a header, the lines as a section, the scope as
 * context) posted to an incoming-webhook URL. The URL is itself the credential: it is kept out of
 * logs and recorded errors like a secret.
 */
import type { Effect } from "effect"
import type { SendFailed, Sent, Target } from "./Channel.js"
import { postJson } from "./Http.js"
import type { Alert } from "./Message.js"
import * as Message from "./Message.js"

/** Slack caps a header at 150 characters and a section at 3,000. */
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

/** The Block Kit message of an alert. */
export const blocks = (alert: Alert) => {
  const text = Message.text(alert)
  return {
    text: cut(text.title, 3000),
    blocks: [
      { type: "header", text: { type: "plain_text", text: cut(text.title, 150), emoji: false } },
      { type: "section", text: { type: "mrkdwn", text: cut(text.lines.join("\n"), 3000) } },
      {
        type: "context",
        elements: [{
          type: "mrkdwn",
          text: cut(`${alert.event} · ${alert.tenantId === null ? "global" : `tenant ${alert.tenantId}`} · ${alert.at.toISOString()}`, 3000)
        }]
      }
    ]
  }
}

export const send = (target: Target, alert: Alert): Effect.Effect<Sent, SendFailed> =>
  postJson(target.url, JSON.stringify(blocks(alert)), {})
