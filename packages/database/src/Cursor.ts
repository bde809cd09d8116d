/**
 * Opaque keyset cursors for lists ordered by (time desc, id desc). A cursor carries the last
 * row's key, a digest of the filter it was issued for and the tenant it was issued to (none for
 * the owner: workers, admins), and is signed: a cursor that was altered, truncated, reused with
 * another filter or by another tenant is refused with `InvalidCursor`.
 */
import { Effect, Either, Schema } from "effect"
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import { InvalidCursor } from "./DatabaseError.js"

export const CursorPosition = Schema.Struct({
  /** epoch milliseconds of the last row's timestamp */
  t: Schema.Int,
  /** the last row's id */
  id: Schema.Int.pipe(Schema.positive()),
  /** digest of the filter the cursor belongs to */
  f: Schema.String,
  /** the tenant the cursor was issued to; absent when issued outside a tenant scope */
  s: Schema.optional(Schema.String)
})
export type CursorPosition = typeof CursorPosition.Type

const decodePosition = Schema.decodeUnknownEither(Schema.parseJson(CursorPosition))

const sign = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("base64url").slice(0, 22)

/** A stable digest of a filter: key order does not matter. */
export const filterDigest = (filter: unknown): string =>
  createHash("sha256").update(stableJson(filter)).digest("base64url").slice(0, 16)

const stableJson = (value: unknown): string => {
  if (value instanceof Date) return JSON.stringify(value.toISOString())
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

/**
 * `tenant`: the tenant the page was read for (null outside a tenant scope). Cursors issued
 * outside a tenant scope keep the format of earlier releases.
 */
export const encode = (
  secret: string,
  position: { readonly at: Date; readonly id: number },
  filter: unknown,
  tenant: string | null
): string => {
  const content = { t: position.at.getTime(), id: position.id, f: filterDigest(filter), ...(tenant === null ? {} : { s: tenant }) }
  const body = Buffer.from(JSON.stringify(content)).toString("base64url")
  return `${body}.${sign(secret, body)}`
}

export const decode = (
  secret: string,
  cursor: string,
  filter: unknown,
  tenant: string | null
): Effect.Effect<{ readonly at: Date; readonly id: number }, InvalidCursor> =>
  Effect.suspend(() => {
    const fail = (reason: string) => Effect.fail(new InvalidCursor({ field: "cursor", reason }))
    const [body, signature, ...rest] = cursor.split(".")
    if (!body || !signature || rest.length > 0) return fail("malformed cursor")
    const expected = Buffer.from(sign(secret, body))
    const given = Buffer.from(signature)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return fail("cursor signature does not match: it was altered or not issued here")
    }
    const position = decodePosition(Buffer.from(body, "base64url").toString("utf8"))
    if (Either.isLeft(position)) return fail("cursor content is not a position")
    if (position.right.f !== filterDigest(filter)) return fail("cursor was issued for a different filter")
    if ((position.right.s ?? null) !== tenant) return fail("cursor was issued for a different tenant")
    return Effect.succeed({ at: new Date(position.right.t), id: position.right.id })
  })
