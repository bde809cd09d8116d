import { SqlClient } from "@effect/sql"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@redrive/database/testing"
import { Effect, Layer, TestClock } from "effect"
import * as ApiKeys from "../src/auth/ApiKeys.js"

const TestLayer = ApiKeys.layer.pipe(Layer.provideMerge(TestDatabase.layer))

const stored = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ hash: string; lastUsedAt: Date | null }>`select hash, last_used_at from redrive.api_key where id = ${id}`)
    .pipe(Effect.map((rows) => rows[0]!))

const failureTag = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

layer(TestLayer)("ApiKeys", (it) => {
  it.effect("a created key authenticates as its tenant; only the sha-256 of its secret is stored", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const { key, secret } = yield* keys.create({ name: "acme-ops", tenant: "acme-keys" })
      assert.match(secret, /^rdk_[A-Za-z0-9_-]{43}$/)
      assert.deepStrictEqual([key.name, key.tenant, key.access, key.revokedAt, key.rotatedFrom], [
        "acme-ops", "acme-keys", "write", null, null
      ])
      const row = yield* stored(key.id)
      assert.strictEqual(row.hash, ApiKeys.hashSecret(secret))
      assert.notInclude(row.hash, secret.slice(4))
      const principal = yield* keys.authenticate(secret)
      assert.deepStrictEqual(principal, { keyId: key.id, name: "acme-ops", tenant: "acme-keys", access: "write" })
    }))

  it.effect("an admin key has no tenant; a read key says so", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const admin = yield* keys.create({ name: "root" })
      assert.isNull((yield* keys.authenticate(admin.secret)).tenant)
      const reader = yield* keys.create({ name: "viewer", tenant: "acme-read", access: "read" })
      assert.strictEqual((yield* keys.authenticate(reader.secret)).access, "read")
    }))

  it.effect("unknown, malformed and revoked keys are Unauthenticated", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const { key, secret } = yield* keys.create({ name: "to-revoke", tenant: "acme-rev" })
      assert.strictEqual(yield* failureTag(keys.authenticate("rdk_" + "A".repeat(43))), "Redrive/Unauthenticated")
      assert.strictEqual(yield* failureTag(keys.authenticate("not a key")), "Redrive/Unauthenticated")
      assert.strictEqual(yield* failureTag(keys.authenticate(secret + "x")), "Redrive/Unauthenticated")
      const revoked = yield* keys.revoke({ id: key.id })
      assert.instanceOf(revoked.revokedAt, Date)
      assert.strictEqual(yield* failureTag(keys.authenticate(secret)), "Redrive/Unauthenticated")
      // Revoking again keeps the first time.
      assert.strictEqual((yield* keys.revoke({ id: key.id })).revokedAt?.getTime(), revoked.revokedAt?.getTime())
    }))

  it.effect("a rotated key and the old one both work until the old one is revoked", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const old = yield* keys.create({ name: "deploy", tenant: "acme-rot", access: "read" })
      const rotated = yield* keys.rotate({ id: old.key.id })
      assert.notStrictEqual(rotated.secret, old.secret)
      assert.deepStrictEqual([rotated.key.name, rotated.key.tenant, rotated.key.access, rotated.key.rotatedFrom], [
        "deploy", "acme-rot", "read", old.key.id
      ])
      assert.strictEqual((yield* keys.authenticate(old.secret)).keyId, old.key.id)
      assert.strictEqual((yield* keys.authenticate(rotated.secret)).keyId, rotated.key.id)
      yield* keys.revoke({ id: old.key.id })
      assert.strictEqual(yield* failureTag(keys.authenticate(old.secret)), "Redrive/Unauthenticated")
      assert.strictEqual((yield* keys.authenticate(rotated.secret)).keyId, rotated.key.id)
    }))

  it.effect("revoke and rotate of a missing key are ApiKeyNotFound; bad input names its field", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      assert.strictEqual(yield* failureTag(keys.revoke({ id: 987654321 })), "Redrive/ApiKeyNotFound")
      assert.strictEqual(yield* failureTag(keys.rotate({ id: "987654321" })), "Redrive/ApiKeyNotFound")
      const bad = yield* Effect.flip(keys.create({ name: "", tenant: "*" }))
      assert.strictEqual(bad._tag, "Redrive/InvalidInput")
      const badId = yield* Effect.flip(keys.revoke({ id: -3 }))
      assert.strictEqual(badId._tag === "Redrive/InvalidInput" ? badId.field : badId._tag, "id")
    }))

  it.effect("list never shows hashes or secrets", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const { key, secret } = yield* keys.create({ name: "listed", tenant: "acme-list" })
      const listed = (yield* keys.list()).find((k) => k.id === key.id)
      assert.deepStrictEqual(Object.keys(listed ?? {}).sort(), [
        "access", "createdAt", "id", "lastUsedAt", "name", "revokedAt", "rotatedFrom", "tenant"
      ])
      assert.notInclude(JSON.stringify(yield* keys.list()), secret)
      assert.notInclude(JSON.stringify(yield* keys.list()), ApiKeys.hashSecret(secret))
    }))

  it.effect("last_used_at is written at most once a minute per key, not per request", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const sql = yield* SqlClient.SqlClient
      const { key, secret } = yield* keys.create({ name: "busy", tenant: "acme-touch" })
      assert.isNull((yield* stored(key.id)).lastUsedAt)
      yield* keys.authenticate(secret)
      const first = (yield* stored(key.id)).lastUsedAt
      assert.instanceOf(first, Date)
      // Pretend the stamp is old: a request within the same minute (by the service's clock) still writes nothing.
      yield* sql`update redrive.api_key set last_used_at = now() - interval '2 minutes' where id = ${key.id}`
      const aged = (yield* stored(key.id)).lastUsedAt
      for (let i = 0; i < 5; i++) yield* keys.authenticate(secret)
      assert.strictEqual((yield* stored(key.id)).lastUsedAt?.getTime(), aged?.getTime())
      // A minute later (service clock), the next request writes it again.
      yield* TestClock.adjust("61 seconds")
      yield* keys.authenticate(secret)
      assert.isAbove((yield* stored(key.id)).lastUsedAt!.getTime(), aged!.getTime())
    }))
})
