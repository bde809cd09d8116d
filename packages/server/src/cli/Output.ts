/**
 * What a command prints: one JSON document on stdout with `--json`, else lines for a person.
 * Failures: with `--json` an `{ "error": … }` document on stdout, else a message on stderr;
 * either way the exit code says which kind (ExitCode.ts).
 */
import { ConfigError, Console, Effect } from "effect"
import * as ExitCode from "./ExitCode.js"

export { table } from "../demo/format.js"

/** A result: its JSON document, or its human lines. */
export const print = (json: boolean, value: unknown, human: () => ReadonlyArray<string>) =>
  json ? Console.log(JSON.stringify(value, null, 2)) : Console.log(human().join("\n"))

const fieldsOf = (error: object): Record<string, unknown> =>
  Object.fromEntries(Object.entries(error).filter(([k, v]) => k !== "_tag" && k !== "cause" && v !== undefined))

/** A failure as a person reads it: the message when it has one, else its kind and fields. */
export const describe = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return String(error)
  // A setting's error keeps its text in toString (`message` is "<redacted>" for a Config.redacted).
  if (ConfigError.isConfigError(error)) return `ConfigError: ${String(error)}`
  const tag = "_tag" in error && typeof error._tag === "string" ? error._tag.replace(/^Redrive\//, "") : "Error"
  // Only a message of its own: a tagged error without one renders its fields as JSON there.
  const message = Object.hasOwn(error, "message") && "message" in error && typeof error.message === "string" && error.message !== ""
    ? error.message
    : undefined
  const fields = fieldsOf(error)
  delete fields.message
  const detail = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")
  return message !== undefined ? `${tag}: ${message}` : detail === "" ? tag : `${tag}: ${detail}`
}

/** The `--json` document of a failure: its tag, message, fields (`field` names bad input) and exit code. */
export const errorDocument = (error: unknown, code: ExitCode.ExitCode) => {
  const fields = typeof error === "object" && error !== null ? fieldsOf(error) : {}
  const tag = typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : "Error"
  return { error: { ...fields, tag, message: describe(error), exitCode: code } }
}

export const failure = (json: boolean, error: unknown, code: ExitCode.ExitCode) =>
  json ? Console.log(JSON.stringify(errorDocument(error, code), null, 2)) : Console.error(`error: ${describe(error)}`)

/** A timestamp as ISO text (`-` when absent). */
export const when = (date: Date | string | null | undefined) =>
  date == null ? "-" : typeof date === "string" ? date : date.toISOString()

/** Runs only when stdout is for a person: progress and hints never pollute a JSON document. */
export const human = (json: boolean, effect: Effect.Effect<void>) => (json ? Effect.void : effect)
