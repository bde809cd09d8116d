/**
 * `redrive replay --filter key=value… [--dry-run] [--no-wait]`: a bulk replay (a durable
 * replay_request). It waits with a progress bar until the request ends (on stderr; `--json`
 * prints the final request instead); `--no-wait` returns once the request exists, leaving it to
 * a worker's replay runner. `replay status|cancel <id>` follow one up.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Fiber, Option } from "effect"
import * as Actor from "../Actor.js"
import { Backend } from "../Backend.js"
import * as Connection from "../Connection.js"
import * as Filters from "../Filters.js"
import * as Output from "../Output.js"
import * as Progress from "../Progress.js"
import { withBackend } from "../Run.js"
import type { ReplayRequest } from "@redrive/database"

const describe = (r: ReplayRequest.ReplayRequest) => [
  ...Output.table([{ header: "" }, { header: "" }], [
    ["request", r.id],
    ["state", r.state],
    ["scope", r.tenantId === "*" ? "every tenant" : `tenant ${r.tenantId}`],
    ["filter", JSON.stringify(r.filter)],
    ["matched", r.matched],
    ["replayed", r.replayed],
    ["requested by", r.requestedBy],
    ["created", Output.when(r.createdAt)],
    ["finished", Output.when(r.finishedAt)],
    ...(r.error !== null ? [["error", r.error]] : [])
  ], "").slice(1)
]

const pollEvery = "250 millis"

/** Polls the request until it ends, drawing the bar (unless `json`); returns its last state. */
const follow = (id: string, json: boolean) =>
  Effect.gen(function*() {
    const backend = yield* Backend
    const bar = Progress.renderer()
    const status = backend.bulkStatus(id).pipe(Effect.tap((r) => (json ? Effect.void : bar.update(r))))
    for (;;) {
      const last = yield* status
      if (Progress.isFinished(last)) {
        if (!json) yield* bar.end
        return last
      }
      yield* Effect.sleep(pollEvery)
    }
  })

const bulk = Command.make("replay", {
  ...Connection.common,
  filter: Options.text("filter").pipe(
    Options.withDescription(`A filter, key=value (repeat it; keys: ${Filters.keyNames}; ids is a comma list).`),
    Options.repeated
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Count what matches; replay nothing.")),
  noWait: Options.boolean("no-wait").pipe(Options.withDescription("Return once the request exists (a worker's replay runner runs it).")),
  id: Options.text("id").pipe(Options.withDescription("The request's id (a UUID): creating it again returns it."), Options.optional),
  by: Actor.by
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const backend = yield* Backend
    const values = yield* Filters.fromPairs(o.filter)
    const request = yield* backend.bulkCreate({
      filter: yield* Filters.toFilter(values),
      // A filter naming a tenant replays that tenant's dead letters; otherwise every tenant's.
      scopeTenant: values.tenant ?? "*",
      dryRun: o.dryRun,
      requestedBy: Actor.resolve(o.by),
      id: Option.getOrUndefined(o.id)
    })
    if (o.dryRun || o.noWait || Progress.isFinished(request)) {
      return yield* Output.print(o.json, request, () =>
        o.dryRun
          ? [`dry run: ${request.matched} dead letter(s) match; nothing replayed`]
          : [...describe(request), ...(o.noWait ? [`follow it: redrive replay status ${request.id}`] : [])])
    }
    const runner = yield* Effect.fork(backend.bulkRun(request.id))
    const last = yield* follow(request.id, o.json)
    yield* Fiber.join(runner)
    yield* Output.print(o.json, last, () => describe(last))
  }))).pipe(Command.withDescription("Replay every dead letter a filter matches (a durable bulk request), with a progress bar."))

const requestId = Args.text({ name: "request-id" }).pipe(Args.withDescription("The replay request's id (a UUID)."))

const status = Command.make("status", { ...Connection.common, requestId, wait: Options.boolean("wait").pipe(Options.withDescription("Follow it with the progress bar until it ends.")) }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const request = o.wait ? yield* follow(o.requestId, o.json) : yield* (yield* Backend).bulkStatus(o.requestId)
    yield* Output.print(o.json, request, () => describe(request))
  }))).pipe(Command.withDescription("A bulk replay's state and progress."))

const cancel = Command.make("cancel", { ...Connection.common, requestId }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const request = yield* (yield* Backend).bulkCancel(o.requestId)
    yield* Output.print(o.json, request, () => describe(request))
  }))).pipe(Command.withDescription("Cancel a pending or running bulk replay (what it replayed stays replayed)."))

export const command = bulk.pipe(Command.withSubcommands([status, cancel]))
