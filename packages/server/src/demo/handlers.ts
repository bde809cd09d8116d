/**
 * The demo's handlers. They call the fake APIs and translate their failures into Redrive's
 * error classes: 422 → ValidationError (dead-lettered at once), 5xx → ExternalApiError
 * (retried with backoff), 429 → RateLimitError (waits for Retry-After, no attempt used). The invoice
 * renderer's crash is a defect: nothing to translate, Redrive records it as `unknown`.
 */
import { JobDefinition, JobErrors } from "@redrive/jobs"
import { Effect } from "effect"
import { type ApiError, CrmApi, InvoiceRenderer, Mailer, PartnerApi } from "./apis.js"
import { NotifyPartner, RenderInvoice, SendEmail, SyncContact } from "./definitions.js"

const toJobError = (field: string) => (e: ApiError) =>
  e.status === 429
    ? new JobErrors.RateLimitError({
      message: e.message,
      ...(e.retryAfterMillis !== undefined ? { retryAfterMillis: e.retryAfterMillis } : {})
    })
    : e.status >= 500
    ? new JobErrors.ExternalApiError({ message: e.message, status: e.status })
    : new JobErrors.ValidationError({ message: e.message, field })

export const sendEmail = JobDefinition.handle(SendEmail, (email) =>
  Effect.flatMap(Mailer, (mailer) => mailer.send(email.to, email.template, email.customerId)).pipe(
    Effect.mapError(toJobError("to"))
  ))

export const renderInvoice = JobDefinition.handle(
  RenderInvoice,
  (invoice) => Effect.flatMap(InvoiceRenderer, (renderer) => renderer.render(invoice))
)

export const syncContact = JobDefinition.handle(SyncContact, (contact) =>
  Effect.flatMap(CrmApi, (crm) => crm.upsertContact(contact.contactId)).pipe(
    Effect.mapError(toJobError("contactId"))
  ))

export const handlers = [sendEmail, renderInvoice, syncContact] as const

/** A 503 from the partner is `external_api`: the class its circuit breaker trips on. */
export const notifyPartner = JobDefinition.handle(NotifyPartner, (order) =>
  Effect.flatMap(PartnerApi, (partner) => partner.notify(order.orderId)).pipe(Effect.mapError(toJobError("orderId"))))
