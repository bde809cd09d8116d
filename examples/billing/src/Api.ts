/**
 * The billing service's HTTP API (@effect/platform HttpApi): open invoices (the invoice and its
 * charge job commit together), list a tenant's invoices (row-level security on the service's own
 * table), and page, inspect and replay the service's dead letters.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { JobDlq } from "@redrive/database"
import { Schema } from "effect"
import { Invoice, NewInvoice } from "./Invoice.js"

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }, HttpApiSchema.annotations({ status: 404 })) {}

/** Input that does not decode, a forged cursor, a bad page size: the field it concerns. */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  { field: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export const Opened = Schema.Struct({ invoice: Invoice, jobId: Schema.Number })

/** One line of a dead-letter page. */
export const DeadLetterSummary = Schema.Struct({
  id: Schema.Number,
  jobId: Schema.Number,
  tenantId: Schema.String,
  type: Schema.String,
  errorClass: Schema.String,
  errorReason: Schema.String,
  attempts: Schema.Number,
  dlqAt: Schema.Date
})

export const DeadLetterPage = Schema.Struct({
  items: Schema.Array(DeadLetterSummary),
  nextCursor: Schema.NullOr(Schema.String)
})

export const Replayed = Schema.Struct({ jobId: Schema.Number, created: Schema.Boolean })

export class Invoices extends HttpApiGroup.make("invoices")
  .add(
    HttpApiEndpoint.post("open", "/invoices")
      .setPayload(NewInvoice)
      .addSuccess(Opened, { status: 201 })
      .addError(BadRequest)
  )
  .add(
    HttpApiEndpoint.get("list", "/tenants/:tenantId/invoices")
      .setPath(Schema.Struct({ tenantId: Schema.String }))
      .addSuccess(Schema.Array(Invoice))
      .addError(BadRequest)
  )
{}

export class DeadLetters extends HttpApiGroup.make("deadLetters")
  .add(
    HttpApiEndpoint.get("list", "/dead-letters")
      .setUrlParams(Schema.Struct({
        tenantId: Schema.optional(Schema.String),
        errorClass: Schema.optional(Schema.String),
        limit: Schema.optional(Schema.NumberFromString),
        cursor: Schema.optional(Schema.String)
      }))
      .addSuccess(DeadLetterPage)
      .addError(BadRequest)
  )
  .add(
    HttpApiEndpoint.get("get", "/dead-letters/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(JobDlq.JobDlq.json)
      .addError(NotFound)
      .addError(BadRequest)
  )
  .add(
    HttpApiEndpoint.post("replay", "/dead-letters/:id/replay")
      .setPath(Schema.Struct({ id: Schema.String }))
      .setPayload(Schema.Struct({ by: Schema.String.pipe(Schema.minLength(1)) }))
      .addSuccess(Replayed)
      .addError(NotFound)
      .addError(BadRequest)
  )
{}

export class BillingApi extends HttpApi.make("billing").add(Invoices).add(DeadLetters) {}
