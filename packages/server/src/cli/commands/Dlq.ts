/** `redrive dlq list|show|groups|replay`: inspect dead letters and replay one. */
import { Args, Command, Options } from "@effect/cli"
import { Input } from "@redrive/database"
import { Effect, Option } from "effect"
import * as Actor from "../Actor.js"
import { Backend } from "../Backend.js"
import * as Connection from "../Connection.js"
import * as Filters from "../Filters.js"
import * as Output from "../Output.js"
import { withBackend } from "../Run.js"

const filterFlag = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

const limit = Options.integer("limit").pipe(Options.withDescription("Page size, 1–500."), Options.withDefault(50))
const cursor = filterFlag("cursor", "The next page: the cursor the previous page printed.")

const list = Command.make("list", {
  ...Connection.common,
  tenant: filterFlag("tenant", "Only this tenant's dead letters."),
  queue: filterFlag("queue", "Only this queue."),
  type: filterFlag("type", "Only this job type."),
  class: filterFlag("class", "Only this error class (validation, external_api, timeout…)."),
  fingerprint: filterFlag("fingerprint", "Only this error fingerprint (see `dlq groups`)."),
  since: filterFlag("since", "Dead-lettered at or after: an ISO date, or a duration ago (\"2 hours\")."),
  until: filterFlag("until", "Dead-lettered before: an ISO date, or a duration ago."),
  limit,
  cursor
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const backend = yield* Backend
    const filter = yield* Filters.toFilter(Filters.fromFlags(o))
    const page = yield* backend.dlqList(filter, { limit: o.limit, cursor: Option.getOrUndefined(o.cursor) })
    yield* Output.print(o.json, page, () => [
      ...Output.table(
        [
          { header: "id", align: "right" },
          { header: "dead-lettered" },
          { header: "tenant" },
          { header: "queue" },
          { header: "type" },
          { header: "class" },
          { header: "attempts", align: "right" },
          { header: "reason", max: 60 }
        ],
        page.items.map((d) => [d.id, Output.when(d.dlqAt), d.tenantId, d.queue, d.type, d.errorClass, d.attempts, d.errorReason]),
        ""
      ),
      `${page.items.length} dead letter(s)` + (page.nextCursor === null ? "" : `; next page: --cursor ${page.nextCursor}`)
    ])
  }))).pipe(Command.withDescription("List unreplayed dead letters, newest first (keyset pages)."))

const id = Args.text({ name: "id" }).pipe(Args.withDescription("The dead letter's id."))

const show = Command.make("show", { ...Connection.common, id }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const d = yield* (yield* Backend).dlqGet(o.id)
    yield* Output.print(o.json, d, () => [
      `dead letter ${d.id} (job ${d.jobId})`,
      ...Output.table([{ header: "" }, { header: "" }], [
        ["tenant", d.tenantId],
        ["queue", d.queue],
        ["type", d.type],
        ["class", d.errorClass],
        ["reason", d.errorReason],
        ["fingerprint", d.fingerprint],
        ["attempts", `${d.attempts} of ${d.maxAttempts}`],
        ["first failed", Output.when(d.firstFailedAt)],
        ["dead-lettered", Output.when(d.dlqAt)],
        ["replayed", d.replayedAt === null ? "no" : `${Output.when(d.replayedAt)} by ${d.replayedBy} as job ${d.replayJobId}`],
        ["payload", JSON.stringify(d.payload)]
      ]).slice(1),
      "history:",
      ...Output.table(
        [{ header: "attempt", align: "right" }, { header: "at" }, { header: "kind" }, { header: "class" }, { header: "message", max: 70 }],
        d.errorHistory.map((e) =>
          e.kind === "dropped"
            ? ["", Output.when(e.at), "dropped", "", `${e.count} entries dropped by the history cap`]
            : [e.attempt, Output.when(e.at), e.kind, e.errorClass, e.message]
        )
      )
    ])
  }))).pipe(Command.withDescription("Show one dead letter with its payload and error history."))

const groups = Command.make("groups", {
  ...Connection.common,
  tenant: filterFlag("tenant", "One tenant's groups (default: across tenants)."),
  type: filterFlag("type", "Only this job type."),
  class: filterFlag("class", "Only this error class."),
  order: Options.choice("order", ["lastSeen", "count"]).pipe(
    Options.withDescription("lastSeen: newest first (default); count: largest first."),
    Options.withDefault("lastSeen" as const)
  ),
  includeEmpty: Options.boolean("include-empty").pipe(Options.withDescription("Also groups whose dead letters are all gone.")),
  limit,
  cursor
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const page = yield* (yield* Backend).groups({
      tenantId: Option.getOrUndefined(o.tenant),
      type: Option.getOrUndefined(o.type),
      errorClass: Option.getOrUndefined(o.class),
      orderBy: o.order,
      limit: o.limit,
      cursor: Option.getOrUndefined(o.cursor),
      includeEmpty: o.includeEmpty
    })
    yield* Output.print(o.json, page, () => [
      ...Output.table(
        [
          { header: "count", align: "right" },
          { header: "tenants", align: "right" },
          { header: "type" },
          { header: "class" },
          { header: "fingerprint" },
          { header: "last seen" },
          { header: "sample", max: 60 }
        ],
        page.groups.map((g) => [g.count, g.tenants, g.type, g.errorClass, g.fingerprint, Output.when(g.lastSeen), g.sampleMessage ?? ""]),
        ""
      ),
      `${page.groups.length} group(s)` + (page.nextCursor === null ? "" : `; next page: --cursor ${page.nextCursor}`)
    ])
  }))).pipe(Command.withDescription("Dead letters grouped by type, error class and fingerprint."))

const decodePayload = (text: string) =>
  Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: (e) => new Input.InvalidInput({ field: "payload", message: `payload: not JSON (${e instanceof Error ? e.message : String(e)})` })
  })

const replay = Command.make("replay", {
  ...Connection.common,
  id,
  payload: Options.text("payload").pipe(
    Options.withDescription("An edited payload (JSON), validated with the job type's Schema where it is known."),
    Options.optional
  ),
  requestId: Options.text("request-id").pipe(
    Options.withDescription("Idempotency key over --url: the same key again returns the first reply."),
    Options.optional
  ),
  by: Actor.by
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const payload = Option.isSome(o.payload) ? yield* decodePayload(o.payload.value) : undefined
    const result = yield* (yield* Backend).replayOne({
      id: o.id,
      by: Actor.resolve(o.by),
      requestId: Option.getOrUndefined(o.requestId),
      ...(payload !== undefined ? { payload } : {})
    })
    yield* Output.print(o.json, result, () => [
      result.created
        ? `dead letter ${o.id} replayed as job ${result.jobId}`
        : `dead letter ${o.id} had been replayed already, as job ${result.jobId}`
    ])
  }))).pipe(Command.withDescription("Replay one dead letter as a new job (idempotent: once per dead letter)."))

export const command = Command.make("dlq").pipe(
  Command.withDescription("Inspect the dead-letter queue and replay one dead letter."),
  Command.withSubcommands([list, show, groups, replay])
)
