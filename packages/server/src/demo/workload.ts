/**
 * The demo's 1000 payloads, deterministic so every run tells the same story:
 * 500 emails (25 with a malformed address), 300 invoices (15 with a negative amount),
 * 200 CRM contacts; and 200 order notifications for the circuit breaker's outage.
 */
import type { NotifyPartner, RenderInvoice, SendEmail, SyncContact } from "./definitions.js"

const templates = ["welcome", "receipt", "password-reset"] as const
const plans = ["free", "pro", "enterprise"] as const

export const emails: ReadonlyArray<typeof SendEmail.payload.Type> = Array.from({ length: 500 }, (_, i) => {
  const customerId = 1000 + i
  // One in twenty addresses is broken, two ways.
  const to = i % 20 !== 9
    ? `customer${customerId}@example.com`
    : i % 40 === 9
    ? `customer${customerId}.example.com`
    : `customer${customerId}@`
  return { to, template: templates[i % 3]!, customerId }
})

export const invoices: ReadonlyArray<typeof RenderInvoice.payload.Type> = Array.from({ length: 300 }, (_, i) => ({
  invoiceId: `INV-2026-${String(i + 1).padStart(5, "0")}`,
  customerId: 1000 + ((i * 7) % 500),
  // One in twenty is a refund: a negative amount, which the renderer cannot handle yet.
  amountCents: i % 20 === 13 ? -((i % 9) + 1) * 1250 : 1500 + ((i * 3779) % 250_000),
  currency: i % 4 === 0 ? "USD" : "EUR"
}))

export const contacts: ReadonlyArray<typeof SyncContact.payload.Type> = Array.from({ length: 200 }, (_, i) => ({
  contactId: `c_${(48_271 * (i + 1)).toString(36)}`,
  email: `customer${1000 + i}@example.com`,
  plan: plans[i % 3]!
}))

export const orders: ReadonlyArray<typeof NotifyPartner.payload.Type> = Array.from({ length: 200 }, (_, i) => ({
  orderId: `ORD-${String(70_001 + i)}`,
  partner: i % 2 === 0 ? "acme-logistics" : "globex-freight"
}))
