/**
 * The webhook channel: the alert as JSON, signed per the Standard Webhooks specification
 * (https://www.standardwebhooks.com), so a receiver verifies it with any of its libraries:
 *
 *   webhook-id: msg_<delivery id>            (the same on every retry: receivers deduplicate on it)
 *   webhook-timestamp: <unix seconds>        (receivers refuse old ones: replays of a captured request)
 *   webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body", keyed by the secret>
 *
 * The channel's secret is `whsec_<base64 key>` (a bare base64 key is accepted too).
 * The body is `{ type, timestamp, data }`, plus `digest` when the message stands for several deliveries.
 */
import { createHmac } from "node:crypto"
import { Effect } from "effect"
import { SendFailed, type Sent, type Target } from "./Channel.js"
import { postJson } from "./Http.js"
import type { Alert } from "./Message.js"
import * as Message from "./Message.js"

const keyOf = (secret: string): Buffer => Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64")

/** `v1,<signature>` of a message, as the spec computes it. */
export const sign = (secret: string, id: string, timestamp: number, body: string): string =>
  `v1,${createHmac("sha256", keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest("base64")}`

/** The JSON body of an alert. */
export const body = (alert: Alert): string =>
  JSON.stringify({
    type: alert.event,
    timestamp: alert.at.toISOString(),
    data: alert.payload,
    summary: Message.text(alert).title,
    ...(alert.digest !== null && alert.digest.count > 1
      ? { digest: { coalesceKey: alert.digest.coalesceKey, count: alert.digest.count, samples: alert.digest.samples } }
      : {})
  })

/** The signed request: its headers and body, at `now`. */
export const request = (secret: string, alert: Alert, now: Date) => {
  const id = `msg_${alert.id}`
  const timestamp = Math.floor(now.getTime() / 1000)
  const payload = body(alert)
  return {
    body: payload,
    headers: {
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": sign(secret, id, timestamp, payload)
    }
  }
}

export const send = (target: Target, alert: Alert, now: Date): Effect.Effect<Sent, SendFailed> =>
  target.secret === null || target.secret === ""
    ? Effect.fail(new SendFailed({ status: null, message: "the webhook channel has no secret to sign with" }))
    : Effect.suspend(() => {
      const signed = request(target.secret ?? "", alert, now)
      return postJson(target.url, signed.body, signed.headers)
    })
