/** What the worker runs for each job type. */
import { JobDefinition, Verdict } from "@redrive/jobs"
import { Effect, Option } from "effect"
import { InvoiceRepo } from "./Invoice.js"
import { ChargeInvoice } from "./jobs.js"
import { Payments } from "./Payments.js"

export const ChargeInvoiceHandler = JobDefinition.handle(ChargeInvoice, ({ invoiceId }) =>
  Effect.gen(function*() {
    const invoices = yield* InvoiceRepo
    const found = yield* invoices.findById(invoiceId)
    // Deleted meanwhile: nothing to charge, and not a failure.
    if (Option.isNone(found)) return yield* Verdict.discard(`invoice ${invoiceId} no longer exists`)
    const invoice = found.value
    // Settled already (a replay of a job that had in fact succeeded): nothing to do.
    if (invoice.status !== "open") return
    // Failures are left as the HttpClient raises them: Redrive classifies 503 / 429 / 402.
    const charge = yield* (yield* Payments).charge({
      idempotencyKey: `invoice-${invoice.id}`,
      amountCents: invoice.amountCents,
      customer: invoice.customer
    })
    yield* invoices.settle({ id: invoice.id, status: "paid", paymentRef: charge.reference })
  }))

export const handlers = [ChargeInvoiceHandler] as const
