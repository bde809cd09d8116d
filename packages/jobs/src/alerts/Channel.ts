/**
 * A channel as the dispatcher sends to it, and what a send returns or fails with. The secret
 * lives here and in the channel modules only: it is never logged, and errors are scrubbed of it
 * (and of the URL, which for Slack is itself a credential) before they are recorded.
 */
import { Schema } from "effect"

export interface Target {
  readonly id: string
  readonly kind: "webhook" | "slack" | "email"
  readonly name: string
  readonly url: string
  readonly secret: string | null
  readonly recipients: ReadonlyArray<string>
  readonly sender: string | null
}

/** The endpoint answered (2xx, or an SMTP 250): its status or reply code. */
export interface Sent {
  readonly status: number | null
}

/** A try that did not deliver: the endpoint's status or reply code if it answered, and why. */
export class SendFailed extends Schema.TaggedError<SendFailed>("Redrive/AlertSendFailed")("AlertSendFailed", {
  status: Schema.NullOr(Schema.Int),
  message: Schema.String
}) {}

/** `text` without the channel's secret or URL (or the URL's credentials), cut to 1,000 characters. */
export const scrub = (target: Target, text: string): string => {
  let out = text
  const hidden = [target.secret, target.url, safeUrlPassword(target.url), urlPath(target.url)].filter(
    (s): s is string => s !== null && s.length >= 4
  )
  for (const secret of hidden) out = out.split(secret).join("[redacted]")
  return out.length > 1000 ? `${out.slice(0, 1000)}…` : out
}

/** The path and query of a URL: a Slack incoming webhook's token lives there. */
const urlPath = (url: string): string | null => {
  try {
    const u = new URL(url)
    const path = `${u.pathname}${u.search}`
    return path.length >= 8 ? path : null
  } catch {
    return null
  }
}

const safeUrlPassword = (url: string): string | null => {
  try {
    const password = new URL(url).password
    return password === "" ? null : decodeURIComponent(password)
  } catch {
    return null
  }
}

/** The message of an unknown failure, with its cause's (fetch hides the network error there). */
export const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ""
    return `${error.message}${cause}`
  }
  return String(error)
}
