/**
 * Model field shapes for what node-postgres returns: jsonb arrives parsed, timestamptz as a
 * Date. A jsonb value is encoded as a JSON string for writes, because pg would send a JS
 * array as a Postgres array literal (see EFFECT_STACK.md §3).
 */
import { Model } from "@effect/sql"
import { Schema } from "effect"

/** A jsonb column holding any JSON value (a job payload). */
export const JsonbValue = Model.Field({
  select: Schema.Unknown,
  insert: Schema.parseJson(),
  update: Schema.parseJson(),
  json: Schema.Unknown,
  jsonCreate: Schema.Unknown,
  jsonUpdate: Schema.Unknown
})

/** A jsonb column holding a typed value (object or array). */
export const Jsonb = <S extends Schema.Schema.AnyNoContext>(schema: S) =>
  Model.Field({
    select: schema,
    insert: Schema.parseJson(schema),
    update: Schema.parseJson(schema),
    json: schema,
    jsonCreate: schema,
    jsonUpdate: schema
  })

/** A timestamptz the application writes: a Date in the database variants, an ISO string in JSON. */
export const Timestamp = Model.Field({
  select: Schema.DateFromSelf,
  insert: Schema.DateFromSelf,
  update: Schema.DateFromSelf,
  json: Schema.Date,
  jsonCreate: Schema.Date,
  jsonUpdate: Schema.Date
})

export const NullableTimestamp = Model.Field({
  select: Schema.NullOr(Schema.DateFromSelf),
  insert: Schema.NullOr(Schema.DateFromSelf),
  update: Schema.NullOr(Schema.DateFromSelf),
  json: Schema.NullOr(Schema.Date),
  jsonCreate: Schema.NullOr(Schema.Date),
  jsonUpdate: Schema.NullOr(Schema.Date)
})

/** A timestamptz the database fills in (a default of now()): read-only for the application. */
export const GeneratedTimestamp = Model.Field({
  select: Schema.DateFromSelf,
  json: Schema.Date
})

/** A bigint column that is not an identity (counters): pg returns it as a string. */
export const BigintCount = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())
