/**
 * The email channel: the alert as a plain-text mail over SMTP (nodemailer). The channel's URL is
 * `smtp://[user@]host:port` (STARTTLS when the server offers it) or `smtps://…` (TLS from the
 * start); the password is the channel's secret; `recipients` are the addresses, `sender` the
 * From (default `redrive@<host>`). A transport per message: alerts are rare, and nothing stays
 * open to a server that may be gone by the next one.
 */
import { Effect } from "effect"
import type Nodemailer from "nodemailer"
import { describe, SendFailed, type Sent, type Target } from "./Channel.js"
import type { Alert } from "./Message.js"
import * as Message from "./Message.js"

/** The mail of an alert: subject and text body. */
export const mail = (alert: Alert) => {
  const text = Message.text(alert)
  return {
    subject: text.title,
    text: [
      ...text.lines,
      "",
      `event: ${alert.event}`,
      `tenant: ${alert.tenantId ?? "(global)"}`,
      `at: ${alert.at.toISOString()}`,
      `message id: msg_${alert.id}`
    ].join("\n")
  }
}

// Loaded with the first mail, not with the library: nodemailer adds ~14 MB to a process that
// loads it (measured: RSS after import), and most processes never send a mail.
let loaded: Promise<typeof Nodemailer> | undefined
const loadNodemailer = Effect.tryPromise({
  try: () => (loaded ??= import("nodemailer").then((module) => module.default)),
  catch: (error) => {
    loaded = undefined
    return new SendFailed({ status: null, message: `nodemailer could not be loaded: ${describe(error)}` })
  }
})

/** The reply code at the start of an SMTP answer ("250 OK: queued"), if any. */
const replyCode = (response: unknown): number | null => {
  const match = typeof response === "string" ? /^(\d{3})/.exec(response) : null
  return match?.[1] === undefined ? null : Number(match[1])
}

const codeOf = (error: unknown): number | null => {
  if (typeof error === "object" && error !== null && "responseCode" in error) {
    const code = error.responseCode
    return typeof code === "number" ? code : null
  }
  return null
}

export const send = (target: Target, alert: Alert, timeoutMs: number): Effect.Effect<Sent, SendFailed> =>
  Effect.acquireUseRelease(
    Effect.flatMap(loadNodemailer, (nodemailer) => Effect.try({
      try: () => {
        const url = new URL(target.url)
        const secure = url.protocol === "smtps:"
        const user = decodeURIComponent(url.username)
        return {
          host: url.hostname,
          transport: nodemailer.createTransport({
            host: url.hostname,
            port: url.port === "" ? (secure ? 465 : 587) : Number(url.port),
            secure,
            ...(user !== "" ? { auth: { user, pass: target.secret ?? "" } } : {}),
            connectionTimeout: timeoutMs,
            greetingTimeout: timeoutMs,
            socketTimeout: timeoutMs
          })
        }
      },
      catch: (error) => new SendFailed({ status: null, message: `invalid SMTP URL: ${describe(error)}` })
    })),
    ({ host, transport }) =>
      Effect.tryPromise({
        try: () =>
          transport.sendMail({
            from: target.sender ?? `redrive@${host}`,
            to: [...target.recipients],
            ...mail(alert)
          }),
        catch: (error) => new SendFailed({ status: codeOf(error), message: describe(error) })
      }).pipe(Effect.map((info): Sent => ({ status: replyCode(info.response) }))),
    ({ transport }) => Effect.sync(() => transport.close())
  )
