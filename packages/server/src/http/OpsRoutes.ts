/**
 * Routes for operators and orchestrators, without authentication: `/healthz` (the process
 * serves), `/readyz` (the database answers and every migration is applied: the migration
 * runner's status), `/metrics` (Prometheus text).
 */
import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { MigrationRunner } from "@redrive/database"
import { Effect, Layer } from "effect"
import * as PrometheusMetrics from "./PrometheusMetrics.js"

const json = (status: number, body: unknown) => HttpServerResponse.unsafeJson(body, { status })

export const readiness = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`select 1`
  const status = yield* MigrationRunner.status()
  const pending = status.filter((s) => s.state !== "applied").map((s) => s.file)
  return { applied: status.length - pending.length, pending }
})

export const layer = Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpLayerRouter.HttpRouter
  const context = yield* Effect.context<MigrationRunner.Requirements>()
  const metrics = yield* PrometheusMetrics.PrometheusMetrics

  yield* router.add("GET", "/healthz", Effect.succeed(json(200, { status: "ok" })))

  yield* router.add(
    "GET",
    "/readyz",
    readiness.pipe(
      Effect.provide(context),
      Effect.map((r) =>
        r.pending.length === 0
          ? json(200, { status: "ready", migrations: r.applied })
          : json(503, { status: "not ready", reason: "migrations pending", pending: r.pending })
      ),
      Effect.catchAll((error) =>
        Effect.zipRight(
          Effect.logWarning("readiness check failed", error),
          Effect.succeed(json(503, { status: "not ready", reason: "database unreachable or migrations unreadable" }))
        )
      )
    )
  )

  yield* router.add(
    "GET",
    "/metrics",
    Effect.map(metrics.scrape, (text) => HttpServerResponse.text(text, { contentType: PrometheusMetrics.contentType }))
  )
}))
