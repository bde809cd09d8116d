/**
 * The CLI's Backend over the database: the library's services (Replay, JobCommands, Controls,
 * ErrorGroups, DeadLetterPurge, JobDlqRepo) on the runtime role, as an operator with database
 * access. It sees every tenant: row-level security walls tenants' keys, not the runtime.
 */
import { Database, DatabaseError, JobDlqRepo, JobRepo } from "@redrive/database"
import { Controls, DeadLetterPurge, ErrorGroups, JobCommands, JobRegistry, Replay } from "@redrive/jobs"
import { Effect, Layer, Option } from "effect"
import * as ApiKeys from "../auth/ApiKeys.js"
import { Backend } from "./Backend.js"
import * as Connection from "./Connection.js"

const make = Effect.gen(function*() {
  const deadLetters = yield* JobDlqRepo.JobDlqRepo
  const replay = yield* Replay.Replay
  const commands = yield* JobCommands.JobCommands
  const controls = yield* Controls.Controls
  const groups = yield* ErrorGroups.ErrorGroups
  const purger = yield* DeadLetterPurge.DeadLetterPurge
  const keys = yield* ApiKeys.ApiKeys

  return Backend.of({
    dlqList: (filter, page) => deadLetters.listPending(filter, page),
    dlqGet: (id) =>
      Effect.flatMap(deadLetters.get(id), (found) =>
        Option.match(found, {
          onNone: () => Effect.fail(new DatabaseError.DeadLetterNotFound({ id: Number(id) })),
          onSome: Effect.succeed
        })),
    groups: (input) => groups.list(input),
    // Replay.replayOne is idempotent per dead letter (one replay job, ever): a request id adds nothing here.
    replayOne: (input) => replay.replayOne({ id: input.id, by: input.by, ...(input.payload !== undefined ? { payload: input.payload } : {}) }),
    bulkCreate: (input) =>
      replay.createBulk({
        filter: input.filter,
        scopeTenant: input.scopeTenant,
        dryRun: input.dryRun,
        requestedBy: input.requestedBy,
        ...(input.id !== undefined ? { id: input.id } : {})
      }),
    // This process runs the request itself; a worker's replay runner would wait for our lease.
    bulkRun: (id) => Effect.asVoid(replay.runBulk(id, `redrive-cli-${process.pid}`)),
    bulkStatus: (id) => replay.get(id),
    bulkCancel: (id) => replay.cancel(id),
    jobGet: (id) =>
      Effect.flatMap(commands.get({ kind: "job", id }), (view) =>
        view.kind === "job" ? Effect.succeed(view.job) : Effect.dieMessage("JobCommands.get answered a dead letter for a job")),
    jobCancel: (input) => commands.cancel(input),
    jobRetry: (input) => commands.retryNow(input),
    pause: (input) => controls.pause(input),
    resume: (input) => controls.resume(input),
    drain: (input) => controls.drain(input),
    controls: controls.list,
    events: (input) => controls.events(input),
    purge: (input) =>
      purger.purge({
        filter: input.filter,
        olderThan: input.olderThanMs,
        dryRun: input.dryRun,
        by: input.by,
        reason: input.reason
      }),
    keysCreate: (input) => keys.create(input),
    keysList: keys.list(),
    keysRevoke: (id) => keys.revoke({ id }),
    keysRotate: (id) => keys.rotate({ id })
  })
})

/**
 * Cursors are signed with REDRIVE_CURSOR_SECRET when it is set, else the published secret: they
 * go to an operator who already reads the database, so a forged one gives nothing away.
 */
export const layer = Layer.effect(Backend, make).pipe(
  Layer.provide(Layer.mergeAll(
    Replay.layer(),
    JobCommands.layer(),
    Controls.layer(),
    ErrorGroups.layer,
    DeadLetterPurge.layer(),
    ApiKeys.layer
  )),
  Layer.provide(Layer.mergeAll(JobRegistry.layer([]), JobRepo.JobRepo.Default, JobDlqRepo.layerInsecureDefault)),
  Layer.provide(Layer.unwrapScoped(Effect.map(Connection.runtimeDatabase, Database.layer)))
)
