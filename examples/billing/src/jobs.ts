/** The billing service's job types: defined once, used by the API (enqueue, replay) and the worker. */
import { JobDefinition } from "@redrive/jobs"
import { Schema } from "effect"

/** Charge an open invoice with the payment provider. */
export const ChargeInvoice = JobDefinition.make({
  name: "billing.charge",
  queue: "billing",
  payload: Schema.Struct({ invoiceId: Schema.Number }),
  // Full jitter by default; a 429 waits for its Retry-After without using one of these.
  retry: { maxAttempts: 5, base: "200 millis", factor: 2, max: "5 seconds" },
  timeout: "10 seconds"
})

export const definitions = [ChargeInvoice]
