/** `redrive jobs show|cancel|retry <id>`: one live job (waiting, paused, running, or kept finished). */
import { Args, Command, Options } from "@effect/cli"
import type { Job } from "@redrive/database"
import { Effect, Option } from "effect"
import * as Actor from "../Actor.js"
import { Backend } from "../Backend.js"
import * as Connection from "../Connection.js"
import * as Output from "../Output.js"
import { withBackend } from "../Run.js"

const id = Args.text({ name: "id" }).pipe(Args.withDescription("The job's id."))
const requestId = Options.text("request-id").pipe(
  Options.withDescription("Idempotency key over --url: the same key again returns the first reply."),
  Options.optional
)

const describe = (j: typeof Job.Job.json.Type) => [
  `job ${j.id}: ${j.state}`,
  ...Output.table([{ header: "" }, { header: "" }], [
    ["tenant", j.tenantId],
    ["queue", j.queue],
    ["type", j.type],
    ["priority", j.priority],
    ["attempt", `${j.attempt} of ${j.maxAttempts}`],
    ["run at", Output.when(j.runAt)],
    ["locked by", j.lockedBy ?? "-"],
    ["replay of", j.replayOf === null ? "-" : `dead letter ${j.replayOf}`],
    ["created", Output.when(j.createdAt)],
    ["payload", JSON.stringify(j.payload)]
  ]).slice(1),
  ...(j.errorHistory.length === 0 ? [] : [
    "history:",
    ...Output.table(
      [{ header: "attempt", align: "right" }, { header: "at" }, { header: "kind" }, { header: "class" }, { header: "message", max: 70 }],
      j.errorHistory.map((e) =>
        e.kind === "dropped"
          ? ["", Output.when(e.at), "dropped", "", `${e.count} entries dropped by the history cap`]
          : [e.attempt, Output.when(e.at), e.kind, e.errorClass, e.message]
      )
    )
  ])
]

const show = Command.make("show", { ...Connection.common, id }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const job = yield* (yield* Backend).jobGet(o.id)
    yield* Output.print(o.json, job, () => describe(job))
  }))).pipe(Command.withDescription("Show a job (it is in `job` until it finishes; dead letters: `dlq show`)."))

const cancel = Command.make("cancel", {
  ...Connection.common,
  id,
  reason: Options.text("reason").pipe(Options.withDescription("Why (kept in the job's history)."), Options.optional),
  by: Actor.by,
  requestId
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const result = yield* (yield* Backend).jobCancel({
      id: o.id,
      by: Actor.resolve(o.by),
      reason: Option.getOrUndefined(o.reason),
      requestId: Option.getOrUndefined(o.requestId)
    })
    yield* Output.print(o.json, result, () => [
      result.alreadyCancelled ? `job ${o.id} was cancelled already` : `job ${o.id} cancelled`
    ])
  }))).pipe(Command.withDescription("Cancel a waiting or paused job (exit 4 when it runs or has finished)."))

const retry = Command.make("retry", { ...Connection.common, id, by: Actor.by, requestId }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const result = yield* (yield* Backend).jobRetry({
      id: o.id,
      by: Actor.resolve(o.by),
      requestId: Option.getOrUndefined(o.requestId)
    })
    yield* Output.print(o.json, result, () => [
      result.rescheduled ? `job ${o.id} is due now` : `job ${o.id} was due already; its workers were woken`
    ])
  }))).pipe(Command.withDescription("Run a waiting job now instead of at its retry time."))

export const command = Command.make("jobs").pipe(
  Command.withDescription("Show, cancel or retry one job."),
  Command.withSubcommands([show, cancel, retry])
)
