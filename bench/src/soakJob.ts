/** The soak's job type, shared by its producer (soak.ts) and its worker (soakWorker.ts). */
import { JobDefinition } from "@redrive/jobs"
import { Schema } from "effect"

export const SoakJob = JobDefinition.make({
  name: "soak.job",
  queue: "soak",
  payload: Schema.Struct({ n: Schema.Int, at: Schema.Number }),
  retry: { maxAttempts: 3, base: "50 millis", max: "500 millis" }
})
