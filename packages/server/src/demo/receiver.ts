/**
 * The demo's alert receiver: a real HTTP endpoint on 127.0.0.1 (a free port) that verifies every
 * request as every Standard Webhooks receiver would (the `standardwebhooks` package, the channel's
 * secret) and keeps what it received, verified or not.
 */
import * as http from "node:http"
import { Effect } from "effect"
import { Webhook } from "standardwebhooks"

export interface ReceivedAlert {
  readonly at: number
  readonly verified: boolean
  readonly type: string
  readonly data: Record<string, unknown>
}

export interface Receiver {
  readonly url: string
  readonly received: ReadonlyArray<ReceivedAlert>
}

const asRecord = (u: unknown): Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? Object.fromEntries(Object.entries(u)) : {}

const headersOf = (req: http.IncomingMessage): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") out[k] = v
  return out
}

/** Listens for the scope's length; `secret` is the channel's signing secret (`whsec_…`). */
export const receiver = (secret: string) =>
  Effect.acquireRelease(
    Effect.async<Receiver & { readonly server: http.Server }>((resume) => {
      const received: Array<ReceivedAlert> = []
      const verifier = new Webhook(secret)
      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          let verified = true
          let message: unknown
          try {
            message = verifier.verify(body, headersOf(req))
          } catch {
            verified = false
            message = JSON.parse(body)
          }
          const m = asRecord(message)
          received.push({ at: Date.now(), verified, type: String(m["type"] ?? "?"), data: asRecord(m["data"]) })
          res.writeHead(verified ? 204 : 401).end()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/redrive-alerts`, received, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
