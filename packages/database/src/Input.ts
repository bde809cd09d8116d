/**
 * Input at the library's boundary: callers pass plain strings, numbers and dates (a tenant id,
 * a dead-letter id, a filter), and the library decodes them with its Schemas, so brands stay
 * inside and a bad value is a typed error naming its field before anything is read or written.
 */
import { Effect, ParseResult, Schema } from "effect"

/** A value at the boundary does not decode; `field` is its dotted path (`filter.ids.3`). Nothing was done. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("Redrive/InvalidInput", {
  field: Schema.String,
  message: Schema.String
}) {}

/** The first issue of a ParseError, as the field it names (under `field`) and its message. */
export const fromParseError = (field: string, error: ParseResult.ParseError): InvalidInput => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = (issue?.path ?? []).flatMap((k) => typeof k === "symbol" ? [] : [String(k)])
  const full = [field, ...path].filter((p) => p.length > 0).join(".")
  return new InvalidInput({ field: full, message: `${full}: ${issue?.message ?? error.message}` })
}

/** Decodes `input` with `schema`, failing with InvalidInput under `field`. */
export const decode = <A, I>(schema: Schema.Schema<A, I>, field: string) => {
  const run = Schema.decodeUnknown(schema)
  return (input: unknown): Effect.Effect<A, InvalidInput> =>
    Effect.mapError(run(input), (error) => fromParseError(field, error))
}
