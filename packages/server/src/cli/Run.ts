/**
 * How a command handler runs: it reaches Redrive through the Backend its options select
 * (`--url` or the database), prints its result, and on failure prints the error (as JSON with
 * `--json`) and ends with the failure's exit code (CommandFailed, read by Cli.run).
 */
import { Cause, Data, Effect, Layer, Option } from "effect"
import { Backend } from "./Backend.js"
import * as Connection from "./Connection.js"
import * as DirectBackend from "./DirectBackend.js"
import * as ExitCode from "./ExitCode.js"
import * as Output from "./Output.js"
import * as RemoteBackend from "./RemoteBackend.js"

/** A command failed and said why; the process exits with `code`. */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly code: ExitCode.ExitCode }> {}

/** Prints what `effect` fails or dies with (JSON-aware) and fails with its exit code. */
export const reported = (json: boolean) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAllCause(effect, (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const failure = Cause.failureOption(cause)
    const error: unknown = Option.isSome(failure) ? failure.value : Cause.squash(cause)
    if (error instanceof CommandFailed) return Effect.fail(error)
    const code = Option.isSome(failure) ? ExitCode.of(error) : ExitCode.failure
    return Effect.zipRight(Output.failure(json, error, code), Effect.fail(new CommandFailed({ code })))
  })

/** The Backend the options select: the server at --url / REDRIVE_URL, else the database. */
export const backend = (options: Connection.Common): Layer.Layer<Backend, unknown> =>
  Layer.unwrapEffect(Effect.map(Connection.remote(options), Option.match({
    onNone: (): Layer.Layer<Backend, unknown> => DirectBackend.layer,
    onSome: (server): Layer.Layer<Backend, unknown> => RemoteBackend.layer(server)
  })))

/** Runs `effect` against the selected Backend and prints its failure, if any. */
export const withBackend = <A, E>(options: Connection.Common, effect: Effect.Effect<A, E, Backend>) =>
  effect.pipe(Effect.provide(backend(options)), Effect.scoped, reported(options.json))
