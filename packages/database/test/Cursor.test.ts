import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash, createHmac } from "node:crypto"
import * as Cursor from "../src/Cursor.js"

const secret = "s3cret"
const at = new Date("2026-11-23T10:00:00.000Z")
const filter = { tenantId: "acme", queue: ["a", "b"], from: new Date("2026-11-01T00:00:00.000Z"), limit: 20, deep: { x: null, y: true } }
// A cursor issued for `filter` at (at, 42): clients hold cursors across deploys, so its format must not change.
const issued = "eyJ0IjoxNzk1NDI4MDAwMDAwLCJpZCI6NDIsImYiOiI2dWZ0M2s3TTNMRGw0WkNMIn0.8z9ABgC8sDn7Z1NsdIV9WE"

/** A body signed the way the server signs, to show that a valid signature alone is not enough. */
const signed = (content: unknown) => {
  const body = Buffer.from(JSON.stringify(content)).toString("base64url")
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url").slice(0, 22)}`
}

const refusal = (cursor: string, forFilter: unknown = filter, withSecret = secret, tenant: string | null = null) =>
  Effect.map(Effect.flip(Cursor.decode(withSecret, cursor, forFilter, tenant)), (error) => {
    assert.strictEqual(error._tag, "Redrive/InvalidCursor")
    assert.strictEqual(error.field, "cursor")
    return error.reason
  })

describe("Cursor", () => {
  it.effect("a cursor decodes to the position it was issued at", () =>
    Effect.gen(function*() {
      const cursor = Cursor.encode(secret, { at, id: 42 }, filter, null)
      assert.deepStrictEqual(yield* Cursor.decode(secret, cursor, filter, null), { at, id: 42 })
      const epoch = Cursor.encode(secret, { at: new Date(-1500), id: 1 }, undefined, null)
      assert.deepStrictEqual(yield* Cursor.decode(secret, epoch, undefined, null), { at: new Date(-1500), id: 1 })
    }))

  it.effect("a cursor issued by an earlier release still decodes", () =>
    Effect.gen(function*() {
      assert.strictEqual(Cursor.encode(secret, { at, id: 42 }, filter, null), issued)
      assert.deepStrictEqual(yield* Cursor.decode(secret, issued, filter, null), { at, id: 42 })
    }))

  it.effect("a cursor used with another filter is refused", () =>
    Effect.gen(function*() {
      const reason = "cursor was issued for a different filter"
      assert.strictEqual(yield* refusal(issued, { ...filter, tenantId: "other" }), reason)
      assert.strictEqual(yield* refusal(issued, { ...filter, queue: ["b", "a"] }), reason)
      assert.strictEqual(yield* refusal(issued, {}), reason)
    }))

  it.effect("a cursor issued to one tenant is refused for another tenant and outside a tenant scope", () =>
    Effect.gen(function*() {
      const reason = "cursor was issued for a different tenant"
      const forA = Cursor.encode(secret, { at, id: 42 }, filter, "tenant-a")
      assert.deepStrictEqual(yield* Cursor.decode(secret, forA, filter, "tenant-a"), { at, id: 42 })
      assert.strictEqual(yield* refusal(forA, filter, secret, "tenant-b"), reason)
      assert.strictEqual(yield* refusal(forA, filter, secret, null), reason)
      // A cursor issued outside a tenant scope (an admin's) is no tenant's cursor either.
      assert.strictEqual(yield* refusal(issued, filter, secret, "tenant-a"), reason)
      // The tenant is under the signature: rewriting it breaks the signature.
      const signature = forA.split(".")[1] ?? ""
      const moved = Buffer.from(JSON.stringify({ t: at.getTime(), id: 42, f: Cursor.filterDigest(filter), s: "tenant-b" }))
        .toString("base64url")
      assert.strictEqual(
        yield* refusal(`${moved}.${signature}`, filter, secret, "tenant-b"),
        "cursor signature does not match: it was altered or not issued here"
      )
    }))

  it.effect("a tampered, truncated or foreign cursor is refused before its content is read", () =>
    Effect.gen(function*() {
      const [body, signature] = issued.split(".") as [string, string]
      const forged = Buffer.from(JSON.stringify({ t: at.getTime(), id: 43, f: Cursor.filterDigest(filter) })).toString("base64url")
      const mismatch = "cursor signature does not match: it was altered or not issued here"
      assert.strictEqual(yield* refusal(`${forged}.${signature}`), mismatch)
      assert.strictEqual(yield* refusal(`${body}.${signature.slice(0, -1)}`), mismatch)
      assert.strictEqual(yield* refusal(`${body}.${signature}x`), mismatch)
      assert.strictEqual(yield* refusal(`${body}.${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`), mismatch)
      assert.strictEqual(yield* refusal(issued, filter, "another secret"), mismatch)
    }))

  it.effect("a cursor that is not body.signature is malformed", () =>
    Effect.gen(function*() {
      const [body, signature] = issued.split(".") as [string, string]
      for (const bad of ["", "garbage", `${body}.`, `.${signature}`, `${issued}.extra`, `${body}.${signature}.${signature}`]) {
        assert.strictEqual(yield* refusal(bad), "malformed cursor", bad)
      }
    }))

  it.effect("a signed cursor whose content is not a position is refused", () =>
    Effect.gen(function*() {
      const f = Cursor.filterDigest(filter)
      assert.deepStrictEqual(yield* Cursor.decode(secret, signed({ t: 5, id: 1, f }), filter, null), { at: new Date(5), id: 1 })
      const notPositions: ReadonlyArray<unknown> = [
        { t: 1.5, id: 1, f },
        { t: 5, id: 0, f },
        { t: 5, id: 1.5, f },
        { t: 5, id: 1 },
        { t: "5", id: 1, f },
        [5, 1, f]
      ]
      for (const content of notPositions) {
        assert.strictEqual(yield* refusal(signed(content)), "cursor content is not a position", JSON.stringify(content))
      }
      const notJson = `not json.${createHmac("sha256", secret).update("not json").digest("base64url").slice(0, 22)}`
      assert.strictEqual(yield* refusal(notJson), "cursor content is not a position")
    }))
})

describe("Cursor.filterDigest", () => {
  it("is the hash of the filter's canonical JSON: keys sorted, undefined left out, dates as ISO strings", () => {
    const canonical = `{"deep":{"x":null,"y":true},"from":"2026-11-01T00:00:00.000Z","limit":20,"queue":["a","b"],"tenantId":"acme"}`
    assert.strictEqual(Cursor.filterDigest(filter), createHash("sha256").update(canonical).digest("base64url").slice(0, 16))
    assert.strictEqual(Cursor.filterDigest(undefined), createHash("sha256").update("null").digest("base64url").slice(0, 16))
  })

  it("does not depend on key order, nor on keys that are undefined", () => {
    const digest = Cursor.filterDigest({ b: 1, a: { d: 2, c: 3 } })
    assert.strictEqual(Cursor.filterDigest({ a: { c: 3, d: 2 }, b: 1 }), digest)
    assert.strictEqual(Cursor.filterDigest({ a: { c: 3, d: 2, e: undefined }, b: 1, z: undefined }), digest)
  })

  it("tells apart filters that differ in any value", () => {
    const digests = [
      { tenantId: "a" },
      { tenantId: "b" },
      { tenantId: null },
      { tenantId: 1 },
      { tenantId: "1" },
      { tenantId: [1, 2] },
      { tenantId: [2, 1] },
      { tenantId: [12, 3] },
      { tenantId: [1, 23] },
      { tenantId: { 0: 1, 1: 2 } },
      { tenantId: ["a,b"] },
      { tenantId: ["a", "b"] },
      { from: new Date(0) },
      { from: new Date(1) },
      { ab: "c" },
      { a: "bc" },
      {}
    ].map(Cursor.filterDigest)
    assert.strictEqual(new Set(digests).size, digests.length)
  })
})
