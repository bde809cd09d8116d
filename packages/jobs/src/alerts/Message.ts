/**
 * What an alert says, whatever carries it: a title and a few lines, built from the delivery's
 * event and payload — or, for a digest, from the count it carries and a few samples. Pure; the
 * channels (Webhook.ts, Slack.ts, Email.ts) only lay it out.
 */

/** A delivery as the dispatcher sends it. */
export interface Alert {
  /** The delivery's id: the message id a receiver deduplicates on (the same for every try). */
  readonly id: string
  readonly event: string
  readonly tenantId: string | null
  readonly payload: Readonly<Record<string, unknown>>
  /** When the event happened (the outbox row's creation). */
  readonly at: Date
  /** Present when the message carries other deliveries of the same coalesce key. */
  readonly digest: Digest | null
}

export interface Digest {
  readonly coalesceKey: string
  /** Every delivery the message stands for: this one and those coalesced into it. */
  readonly count: number
  /** A few of the coalesced deliveries' payloads. */
  readonly samples: ReadonlyArray<unknown>
}

export interface Text {
  readonly title: string
  readonly lines: ReadonlyArray<string>
}

const str = (value: unknown): string =>
  value === null || value === undefined ? "-" : typeof value === "string" ? value : JSON.stringify(value)

const scopeOf = (p: Readonly<Record<string, unknown>>) =>
  [p["tenantId"] !== undefined ? `tenant ${str(p["tenantId"])}` : null, p["queue"] !== undefined ? `queue ${str(p["queue"])}` : null]
    .filter((s) => s !== null)
    .join(", ")

const controlVerb: Readonly<Record<string, string>> = {
  "control.paused": "Paused",
  "control.resumed": "Resumed",
  "control.drain_started": "Draining",
  "control.drain_completed": "Drained"
}

/** A control scope, `*` read as "every": tenant a, every queue, type t. */
const controlScope = (p: Readonly<Record<string, unknown>>) =>
  [["tenant", p["tenantId"]], ["queue", p["queue"]], ["type", p["type"]]]
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([what, v]) => (v === "*" ? `every ${String(what)}` : `${String(what)} ${str(v)}`))
    .join(", ")

/** What a test alert says beside its fields: that nothing is wrong. */
const testLine = "This is a test alert sent from Redrive to check this channel: nothing is wrong."

/** The headline of one event. */
const titleOf = (event: string, p: Readonly<Record<string, unknown>>): string => {
  switch (event) {
    case "job.dead_lettered":
      return `Dead letter: ${str(p["type"])} (${str(p["errorClass"])}) in ${scopeOf(p)}`
    case "job.failing":
      return `Failing: ${str(p["type"])} — ${str(p["failures"])} failures in ${scopeOf(p)}`
    case "job.recovered":
      return `Recovered: ${str(p["type"])} succeeded after ${str(p["attempts"])} attempts in ${scopeOf(p)}`
    case "dlq.threshold":
      return `DLQ above ${str(p["threshold"])}: ${str(p["depth"])} unreplayed dead letters in ${scopeOf(p)}`
    case "replay.finished":
      return `Replay ${str(p["requestId"])} ${str(p["state"])}: ${str(p["replayed"])} of ${str(p["matched"])} replayed`
    case "circuit.opened":
      return `Circuit opened: ${str(p["type"])}`
    case "circuit.closed":
      return `Circuit closed: ${str(p["type"])}`
    case "control.paused":
    case "control.resumed":
    case "control.drain_started":
    case "control.drain_completed":
      return `${controlVerb[event]}: ${controlScope(p)} by ${str(p["actor"])}` +
        (typeof p["reason"] === "string" && p["reason"] !== "" ? ` (${p["reason"]})` : "")
    case "alert.test":
      return `Test alert for channel ${str(p["channel"])}, sent by ${str(p["by"])}`
    default:
      return `${event}${scopeOf(p) === "" ? "" : ` in ${scopeOf(p)}`}`
  }
}

/** The payload's fields, one per line, the long ones cut. */
const fieldLines = (p: Readonly<Record<string, unknown>>) =>
  Object.entries(p).map(([key, value]) => {
    const text = str(value)
    return `${key}: ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`
  })

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The text of an alert: one event, or a digest of `count` of them. */
export const text = (alert: Alert): Text => {
  if (alert.digest === null || alert.digest.count <= 1) {
    const lines = fieldLines(alert.payload)
    return {
      title: `[redrive] ${titleOf(alert.event, alert.payload)}`,
      lines: alert.event === "alert.test" ? [testLine, ...lines] : lines
    }
  }
  const d = alert.digest
  const samples = [alert.payload, ...d.samples.filter(isRecord)].slice(0, 5)
  return {
    title: `[redrive] ${d.count} × ${alert.event} in ${scopeOf(alert.payload) || d.coalesceKey} (digest)`,
    lines: [
      `${d.count} ${alert.event} events of ${d.coalesceKey} were coalesced into this message; the first:`,
      ...samples.map((s) => `• ${titleOf(alert.event, s)}`),
      ...(d.count > samples.length ? [`…and ${d.count - samples.length} more`] : [])
    ]
  }
}
