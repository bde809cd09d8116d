/**
 * `redrive pause|resume|drain <tenant[/queue]>` and `redrive controls [--events]`: operator
 * controls of a scope. `*` is every tenant or queue (`"*" + "/emails"` — written as one word — is
 * the emails queue of every tenant); a scope without a queue is the whole tenant.
 */
import { Args, Command, Options } from "@effect/cli"
import type { Controls } from "@redrive/jobs"
import { Effect, Option } from "effect"
import * as Actor from "../Actor.js"
import { Backend } from "../Backend.js"
import * as Connection from "../Connection.js"
import * as Output from "../Output.js"
import { withBackend } from "../Run.js"

const scope = Args.text({ name: "scope" }).pipe(
  Args.withDescription("tenant or tenant/queue; * for every tenant or queue (quote it in a shell).")
)

/** `acme/emails` → { tenantId: acme, queue: emails }; the library decodes each part (InvalidInput names it). */
export const parseScope = (text: string): Controls.ScopeInput => {
  const at = text.indexOf("/")
  return at < 0 ? { tenantId: text } : { tenantId: text.slice(0, at), queue: text.slice(at + 1) }
}

const scopeName = (s: { readonly tenantId: string; readonly queue: string }) =>
  `${s.tenantId === "*" ? "every tenant" : `tenant ${s.tenantId}`}, ${s.queue === "*" ? "every queue" : `queue ${s.queue}`}`

const changed = (verb: string, text: string, change: Controls.ControlChange) => [
  change.control === null
    ? `${text}: nothing to ${verb}`
    : `${text}: ${verb === "resume" ? `resumed (was ${change.control.state})` : change.control.state}`,
  `${change.moved} waiting job(s) moved`
]

const pause = Command.make("pause", {
  ...Connection.common,
  scope,
  reason: Options.text("reason").pipe(Options.withDescription("Why (audited, and sent with the control.paused alert).")),
  by: Actor.by
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const change = yield* (yield* Backend).pause({ ...parseScope(o.scope), reason: o.reason, by: Actor.resolve(o.by) })
    yield* Output.print(o.json, change, () => changed("pause", o.scope, change))
  }))).pipe(Command.withDescription("Pause a scope: nothing of it starts; enqueue still works (jobs wait paused)."))

const resume = Command.make("resume", { ...Connection.common, scope, by: Actor.by }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const change = yield* (yield* Backend).resume({ ...parseScope(o.scope), by: Actor.resolve(o.by) })
    yield* Output.print(o.json, change, () => changed("resume", o.scope, change))
  }))).pipe(Command.withDescription("Lift a scope's pause or drain."))

const drain = Command.make("drain", { ...Connection.common, scope, by: Actor.by }, (o) =>
  withBackend(o, Effect.gen(function*() {
    const change = yield* (yield* Backend).drain({ ...parseScope(o.scope), by: Actor.resolve(o.by) })
    yield* Output.print(o.json, change, () => changed("drain", o.scope, change))
  }))).pipe(Command.withDescription("Drain a scope: nothing new starts, running jobs finish, then it is `drained`."))

const controls = Command.make("controls", {
  ...Connection.common,
  events: Options.boolean("events").pipe(Options.withDescription("The audit trail (newest first) instead of the controls in force.")),
  scope: Options.text("scope").pipe(Options.withDescription("With --events: only this scope's events (tenant[/queue])."), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDescription("With --events: how many (1–1000)."), Options.withDefault(100))
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const backend = yield* Backend
    if (!o.events) {
      const rows = yield* backend.controls
      return yield* Output.print(o.json, rows, () =>
        rows.length === 0 ? ["no controls in force: every scope runs"] : Output.table(
          [{ header: "tenant" }, { header: "queue" }, { header: "type" }, { header: "state" }, { header: "by" }, { header: "since" }, { header: "reason", max: 50 }],
          rows.map((c) => [c.tenantId, c.queue, c.type, c.state, c.initiatedBy, Output.when(c.initiatedAt), c.reason ?? ""]),
          ""
        ))
    }
    const events = yield* backend.events({ ...(Option.isSome(o.scope) ? parseScope(o.scope.value) : {}), limit: o.limit })
    yield* Output.print(o.json, events, () =>
      Output.table(
        [{ header: "id", align: "right" }, { header: "at" }, { header: "action" }, { header: "scope" }, { header: "type" }, { header: "from" }, { header: "by" }, { header: "reason", max: 50 }],
        events.map((e) => [e.id, Output.when(e.at), e.action, scopeName(e), e.type, e.previousState ?? "", e.actor, e.reason ?? ""]),
        ""
      ))
  }))).pipe(Command.withDescription("The controls in force (pauses, drains, open circuits), or their audit trail."))

export const commands = [pause, resume, drain, controls] as const
