/**
 * `redrive purge dlq --filter key=value… [--older-than "30 days"] [--dry-run | --yes]`: deletes
 * unreplayed dead letters for good (DeadLetterPurge: audited in redrive.dlq_purge; dead letters
 * a pending bulk replay holds are kept). A purge needs a filter or --older-than (never "all"
 * by accident), and --yes: without it the command says how many would go and exits 2.
 */
import { Command, Options } from "@effect/cli"
import { Input } from "@redrive/database"
import { Duration, Effect, Option } from "effect"
import * as Actor from "../Actor.js"
import { Backend } from "../Backend.js"
import * as Connection from "../Connection.js"
import * as Filters from "../Filters.js"
import * as Output from "../Output.js"
import { withBackend } from "../Run.js"

const olderThanMillis = (text: string) => {
  const d = Duration.decodeUnknown(text)
  const ms = Option.isSome(d) ? Duration.toMillis(d.value) : Number.NaN
  return Number.isFinite(ms) && ms >= 1
    ? Effect.succeed(Math.round(ms))
    : Effect.fail(new Input.InvalidInput({ field: "older-than", message: `older-than: expected a duration such as "30 days", got ${JSON.stringify(text)}` }))
}

const dlq = Command.make("dlq", {
  ...Connection.common,
  filter: Options.text("filter").pipe(
    Options.withDescription(`A filter, key=value (repeat it; keys: ${Filters.keyNames}).`),
    Options.repeated
  ),
  olderThan: Options.text("older-than").pipe(
    Options.withDescription("Only dead letters dead-lettered longer ago than this (\"30 days\", \"12 hours\")."),
    Options.optional
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Count what would be deleted; delete nothing.")),
  yes: Options.boolean("yes").pipe(Options.withDescription("Delete without asking (required unless --dry-run).")),
  reason: Options.text("reason").pipe(Options.withDescription("Why (audited)."), Options.optional),
  by: Actor.by
}, (o) =>
  withBackend(o, Effect.gen(function*() {
    const backend = yield* Backend
    const values = yield* Filters.fromPairs(o.filter)
    const olderThanMs = Option.isSome(o.olderThan) ? yield* olderThanMillis(o.olderThan.value) : undefined
    if (Object.keys(values).length === 0 && olderThanMs === undefined) {
      return yield* new Input.InvalidInput({
        field: "filter",
        message: "filter: a purge needs --filter key=value or --older-than (it never deletes every dead letter by default)"
      })
    }
    const input = {
      filter: yield* Filters.toFilter(values),
      olderThanMs,
      by: Actor.resolve(o.by),
      reason: Option.getOrUndefined(o.reason)
    }
    if (o.dryRun || !o.yes) {
      const counted = yield* backend.purge({ ...input, dryRun: true })
      if (o.dryRun) {
        return yield* Output.print(o.json, counted, () => [`dry run: ${counted.count} dead letter(s) would be deleted`])
      }
      return yield* new Input.InvalidInput({
        field: "yes",
        message: `yes: this deletes ${counted.count} dead letter(s) for good; add --yes to do it (or --dry-run to count)`
      })
    }
    const purged = yield* backend.purge({ ...input, dryRun: false })
    yield* Output.print(o.json, purged, () => [`${purged.count} dead letter(s) deleted (audit entry ${purged.auditId} in redrive.dlq_purge)`])
  }))).pipe(Command.withDescription("Delete dead letters matching a filter, for good (audited)."))

export const command = Command.make("purge").pipe(
  Command.withDescription("Delete data for good (audited): `purge dlq`."),
  Command.withSubcommands([dlq])
)
