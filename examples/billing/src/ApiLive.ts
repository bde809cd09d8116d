/** The handlers of the billing API, over Redrive's services and the service's own table. */
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { DatabaseError, JobDlqRepo, Tenant } from "@redrive/database"
import { Enqueue, Replay } from "@redrive/jobs"
import { Config, Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import { BadRequest, BillingApi, NotFound } from "./Api.js"
import { InvoiceRepo } from "./Invoice.js"
import { ChargeInvoice } from "./jobs.js"

/** Redrive's boundary errors become 400s naming the field; a database failure is a 500 (a defect). */
const badRequest = (e: { readonly field: string; readonly message?: string; readonly reason?: string }) =>
  new BadRequest({ field: e.field, message: e.message ?? e.reason ?? "invalid" })

const InvoicesLive = HttpApiBuilder.group(BillingApi, "invoices", (handlers) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const invoices = yield* InvoiceRepo
    return handlers
      .handle("open", ({ payload }) =>
        // One transaction: the invoice and its charge job commit (or roll back) together.
        sql.withTransaction(Effect.gen(function*() {
          const invoice = yield* invoices.insert(payload)
          const job = yield* Enqueue.one(ChargeInvoice, { invoiceId: invoice.id }, {
            tenantId: payload.tenantId,
            idempotencyKey: `invoice-${invoice.id}`
          })
          return { invoice, jobId: job.id }
        })).pipe(
          Effect.catchTags({
            "Redrive/InvalidEnqueueOption": (e) => Effect.fail(badRequest(e)),
            ParseError: (e) => Effect.fail(new BadRequest({ field: "body", message: e.message }))
          }),
          Effect.orDie
        ))
      .handle("list", ({ path }) =>
        // A tenant block: row-level security on billing.invoice returns this tenant's rows only.
        Tenant.withTenant(path.tenantId, invoices.list).pipe(
          Effect.catchTags({
            "Redrive/InvalidInput": (e) => Effect.fail(badRequest(e)),
            "Redrive/ReservedTenant": (e) => Effect.fail(new BadRequest({ field: "tenantId", message: e.message }))
          }),
          Effect.orDie
        ))
  }))

const DeadLettersLive = HttpApiBuilder.group(BillingApi, "deadLetters", (handlers) =>
  Effect.gen(function*() {
    const dlq = yield* JobDlqRepo.JobDlqRepo
    const replay = yield* Replay.Replay
    return handlers
      .handle("list", ({ urlParams }) =>
        dlq.listPending(
          {
            type: ChargeInvoice.name,
            ...(urlParams.tenantId === undefined ? {} : { tenantId: urlParams.tenantId }),
            ...(urlParams.errorClass === undefined ? {} : { errorClass: urlParams.errorClass })
          },
          { limit: urlParams.limit ?? 50, cursor: urlParams.cursor ?? null }
        ).pipe(
          Effect.map((page) => ({
            items: page.items,
            nextCursor: page.nextCursor
          })),
          Effect.catchTags({
            "Redrive/InvalidInput": (e) => Effect.fail(badRequest(e)),
            "Redrive/InvalidCursor": (e) => Effect.fail(badRequest(e)),
            "Redrive/InvalidLimit": (e) => Effect.fail(badRequest(e))
          }),
          Effect.orDie
        ))
      .handle("get", ({ path }) =>
        dlq.get(path.id).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(new NotFound({ message: `no dead letter ${path.id}` })),
            onSome: Effect.succeed
          })),
          Effect.catchTag("Redrive/InvalidInput", (e) => Effect.fail(badRequest(e))),
          Effect.catchIf((e): e is DatabaseError.DatabaseError | DatabaseError.InvalidRow =>
            e._tag === "Redrive/DatabaseError" || e._tag === "Redrive/InvalidRow", Effect.die)
        ))
      .handle("replay", ({ path, payload }) =>
        replay.replayOne({ id: path.id, by: payload.by }).pipe(
          Effect.catchTags({
            "Redrive/DeadLetterNotFound": (e) => Effect.fail(new NotFound({ message: `no dead letter ${e.id}` })),
            "Redrive/InvalidInput": (e) => Effect.fail(badRequest(e))
          }),
          Effect.orDie
        ))
  }))

/** The API's handlers; they need Redrive's services, the invoice repository and a SqlClient. */
export const ApiLive = HttpApiBuilder.api(BillingApi).pipe(
  Layer.provide(Layer.mergeAll(InvoicesLive, DeadLettersLive))
)

/** The API served on PORT (default 3000). */
export const ServerLive = Layer.unwrapEffect(Effect.map(
  Config.integer("PORT").pipe(Config.withDefault(3000)),
  (port) =>
    HttpApiBuilder.serve().pipe(
      HttpServer.withLogAddress,
      Layer.provide(ApiLive),
      Layer.provide(NodeHttpServer.layer(createServer, { port }))
    )
))
