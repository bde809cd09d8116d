/**
 * The demo's three job types: each has its own queue and retry policy. Backoffs are tiny so
 * the whole demo runs in seconds; a real deployment would use seconds to minutes.
 *
 * The queues carry a `demo.` prefix because a worker claims every tenant's jobs of its queues:
 * on a shared DATABASE_URL the demo's worker must never pick up another tenant's `emails` jobs.
 */
import { JobDefinition } from "@redrive/jobs"
import { Schema } from "effect"

export const tenant = "demo"

export const SendEmail = JobDefinition.make({
  name: "email.send",
  queue: "demo.emails",
  payload: Schema.Struct({
    // Not checked here on purpose: addresses come from user data, and the provider rejects bad ones.
    to: Schema.String,
    template: Schema.Literal("welcome", "receipt", "password-reset"),
    customerId: Schema.Int
  }),
  // Validation failures are never retried (the default rule): they go to the DLQ at once.
  retry: { maxAttempts: 5, base: "40 millis", max: "500 millis", jitter: "full" }
})

export const RenderInvoice = JobDefinition.make({
  name: "invoice.render",
  queue: "demo.billing",
  priority: 3,
  payload: Schema.Struct({
    invoiceId: Schema.String,
    customerId: Schema.Int,
    amountCents: Schema.Int,
    currency: Schema.Literal("EUR", "USD")
  }),
  retry: { maxAttempts: 3, base: "50 millis", max: "500 millis", jitter: "full" }
})

export const SyncContact = JobDefinition.make({
  name: "crm.sync",
  queue: "demo.integrations",
  priority: 7,
  payload: Schema.Struct({
    contactId: Schema.String,
    email: Schema.String,
    plan: Schema.Literal("free", "pro", "enterprise")
  }),
  // A 429 waits for its Retry-After without using an attempt (up to 20 times, the default).
  retry: { maxAttempts: 5, base: "20 millis", max: "500 millis", rateLimit: { maxWaits: 20 } }
})

export const definitions = [SendEmail, RenderInvoice, SyncContact] as const

/**
 * Order notifications to a partner's API, with a circuit breaker: when the partner is down, the
 * type is paused instead of burning every job's attempts. Its settings are shrunk to the demo's
 * seconds (the defaults: 50 % of 20 attempts in 60 s, 30 s of cool-down doubling to 10 minutes).
 * The name carries `demo.`: a circuit pauses its type for every tenant.
 */
export const NotifyPartner = JobDefinition.make({
  name: "demo.partner.notify",
  queue: "demo.partners",
  payload: Schema.Struct({ orderId: Schema.String, partner: Schema.String }),
  retry: { maxAttempts: 8, base: "300 millis", max: "2 seconds" },
  circuitBreaker: { window: "5 seconds", minAttempts: 10, failureRatio: 0.5, cooldown: "1 second", maxCooldown: "4 seconds", probes: 3 }
})
