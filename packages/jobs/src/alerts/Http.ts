/**
 * A JSON POST for the webhook and Slack channels: Node's fetch, aborted when the effect is
 * interrupted (the dispatcher's timeout), the answer's body read (to free the connection) and cut.
 */
import { Effect } from "effect"
import { describe, SendFailed, type Sent } from "./Channel.js"

export const postJson = (
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<Sent, SendFailed> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "redrive-alerts", ...headers },
        body,
        signal,
        redirect: "manual"
      })
      const text = await response.text()
      return { status: response.status, ok: response.ok, text: text.slice(0, 300) }
    },
    catch: (error) => new SendFailed({ status: null, message: describe(error) })
  }).pipe(
    Effect.flatMap((answer) =>
      answer.ok
        ? Effect.succeed({ status: answer.status })
        : Effect.fail(new SendFailed({ status: answer.status, message: `HTTP ${answer.status}: ${answer.text}` }))
    )
  )
