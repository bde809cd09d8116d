/** Helpers for alert tests: real local HTTP endpoints, channels, outbox rows, captured logs. */
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { SqlClient } from "@effect/sql"
import { Factory } from "@redrive/database/testing"
import { Cause, Effect, HashMap, Logger } from "effect"

export interface Received {
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** What the endpoint does with request number `n` (0-based): answer a status, hang, or drop the connection. */
export type Behaviour = (n: number) => number | "hang" | "drop"

/** A real HTTP endpoint on 127.0.0.1 (port 0) for the length of the scope; every request is kept. */
export const endpoint = (behaviour: Behaviour = () => 200) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly received: Array<Received>; readonly server: http.Server }>((resume) => {
      const received: Array<Received> = []
      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const n = received.length
          received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
          const what = behaviour(n)
          if (what === "hang") return
          if (what === "drop") return void req.socket.destroy()
          res.writeHead(what, { "content-type": "text/plain" }).end(what < 300 ? "ok" : "unavailable")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/hook`, received, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

export const newSecret = () => `whsec_${randomBytes(24).toString("base64")}`

export interface ChannelInput {
  readonly tenantId: string | null
  readonly kind?: "webhook" | "slack" | "email"
  readonly url: string
  readonly secret?: string | null
  readonly events?: ReadonlyArray<string>
  readonly errorClasses?: ReadonlyArray<string>
  readonly recipients?: ReadonlyArray<string>
  readonly digestWindowS?: number
  readonly failingAfter?: number
  readonly failingWindowS?: number
  readonly dlqThreshold?: number | null
  readonly minPriority?: number
}

/** A channel; a global one is removed with the test's scope (it sees every tenant of the file's database). */
export const channel = (c: ChannelInput) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: string }>`
      insert into redrive.alert_channel (tenant_id, name, kind, url, secret, events, error_classes, recipients,
        digest_window_s, failing_after, failing_window_s, dlq_threshold, min_priority)
      values (${c.tenantId}, ${Factory.unique("channel")}, ${c.kind ?? "webhook"}, ${c.url}, ${c.secret ?? null},
              ${c.events ?? []}::text[], ${c.errorClasses ?? []}::text[], ${c.recipients ?? []}::text[],
              ${c.digestWindowS ?? 60}, ${c.failingAfter ?? 5}, ${c.failingWindowS ?? 300}, ${c.dlqThreshold ?? null},
              ${c.minPriority ?? 10})
      returning id`
    const id = Number(row!.id)
    if (c.tenantId === null) {
      yield* Effect.addFinalizer(() => Effect.ignore(sql`delete from redrive.alert_channel where id = ${id}`))
    }
    return id
  })

/** An outbox row, as the settle statement writes it. */
export const outbox = (d: {
  readonly channelId: number
  readonly tenantId: string
  readonly event?: string
  readonly payload?: Record<string, unknown>
  readonly coalesceKey?: string | null
}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: string }>`
      insert into redrive.alert_delivery (channel_id, tenant_id, event, payload, coalesce_key)
      values (${d.channelId}, ${d.tenantId}, ${d.event ?? "job.dead_lettered"},
              ${JSON.stringify(d.payload ?? { tenantId: d.tenantId, queue: "q", type: "t", errorClass: "unknown" })}::jsonb,
              ${d.coalesceKey ?? null})
      returning id`
    return Number(row!.id)
  })

export interface AttemptRow {
  readonly attempt: number
  readonly outcome: string
  readonly statusCode: number | null
  readonly error: string | null
  readonly durationMs: number
}

export const attemptsOf = (deliveryId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<AttemptRow>`
      select attempt, outcome, status_code, error, duration_ms from redrive.alert_attempt
      where delivery_id = ${deliveryId} order by attempt, id`)

export const deliveryOf = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ state: string; attempts: number; lastStatus: number | null; lastError: string | null; deliveredAt: Date | null }>`
        select state, attempts, last_status, last_error, delivered_at from redrive.alert_delivery where id = ${id}`,
      (rows) => rows[0]
    ))

/** Makes every delivery due now (instead of waiting out a backoff or a digest window). */
export const makeDue = (channelId: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`update redrive.alert_delivery set next_attempt_at = now() where channel_id = ${channelId} and state = 'pending'`)

/** Every log line (message, annotations, cause) written while `body` runs. */
export const captureLogs = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ annotations, cause, message }) => {
      lines.push(
        [
          JSON.stringify(message),
          JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations))),
          Cause.isEmpty(cause) ? "" : Cause.pretty(cause)
        ].join(" ")
      )
    })
    const result = yield* body.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { result, lines }
  })

