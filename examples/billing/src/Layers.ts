/**
 * The two processes of the billing service, as layers:
 * - the API process: the HTTP API over `Redrive.layer` (enqueue, dead letters, replay; nothing
 *   in the background);
 * - the worker process: `Redrive.layerWorker` (the worker, maintenance, the bulk-replay runner)
 *   with what the handlers need (the invoice table, the payment provider's HttpClient).
 * `all` runs both in one process. Settings come from the environment: DATABASE_URL (as
 * redrive_runtime), REDRIVE_CURSOR_SECRET, PAYMENTS_URL, PORT.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Redrive } from "@redrive/jobs"
import { Layer } from "effect"
import { ServerLive } from "./ApiLive.js"
import { handlers } from "./handlers.js"
import { InvoiceRepo } from "./Invoice.js"
import { definitions } from "./jobs.js"
import { Payments } from "./Payments.js"

export const apiProcess = (options: Redrive.RedriveOptions = {}) =>
  ServerLive.pipe(Layer.provide(Redrive.layer({ ...options, definitions, services: InvoiceRepo.Default })))

/** The worker and what its handlers need: the invoice table, and the provider over HTTP. */
export const workerProcess = (options: Redrive.RedriveOptions = {}) =>
  Redrive.layerWorker({ ...options, definitions, handlers, services: InvoiceRepo.Default }).pipe(
    Layer.provide(Payments.Default),
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** Both in one process: the API over the worker process's services. */
export const allInOne = (options: Redrive.RedriveOptions = {}) =>
  ServerLive.pipe(Layer.provideMerge(workerProcess(options)))
