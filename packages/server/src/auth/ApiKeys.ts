/**
 * API keys: created with a high-entropy secret (`rdk_` + base64url of 32 random bytes) shown once;
 * only its SHA-256 (hex) is stored. A key is an admin's (tenant null) or one tenant's, with write
 * or read access; revocable; rotatable (a new key with the same name, tenant and access that
 * names the old one in `rotatedFrom`; both work until the old one is revoked).
 *
 * `authenticate` looks the hash up on every request (a revocation holds at once) and records
 * `last_used_at` at most once a minute per key: the last write per key is remembered in memory,
 * and the statement itself only writes a stamp older than a minute.
 */
import { ApiKey, ApiKeyRepo, type DatabaseError as DbError, Ids, Input } from "@redrive/database"
import { Clock, Context, Effect, Layer, Option, Ref, Schema } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { ApiKeyNotFound, Unauthenticated } from "../ApiErrors.js"
import { ApiKeyInfo, type CreatedKey } from "./ApiKeyViews.js"
import type { PrincipalData } from "./Principal.js"

export { ApiKeyInfo, CreatedKey } from "./ApiKeyViews.js"


export const CreateKey = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  /** null (or absent): an admin key. */
  tenant: Schema.optionalWith(Schema.NullOr(Ids.TenantId), { default: () => null }),
  access: Schema.optionalWith(ApiKey.Access, { default: () => "write" as const })
})
export type CreateKeyInput = typeof CreateKey.Encoded

type Failure = DbError.DatabaseError | DbError.InvalidRow

export class ApiKeys extends Context.Tag("@redrive/server/ApiKeys")<ApiKeys, {
  readonly create: (input: CreateKeyInput) => Effect.Effect<CreatedKey, Input.InvalidInput | Failure>
  readonly list: () => Effect.Effect<ReadonlyArray<ApiKeyInfo>, Failure>
  readonly revoke: (input: { readonly id: number | string }) => Effect.Effect<ApiKeyInfo, ApiKeyNotFound | Input.InvalidInput | Failure>
  readonly rotate: (input: { readonly id: number | string }) => Effect.Effect<CreatedKey, ApiKeyNotFound | Input.InvalidInput | Failure>
  readonly authenticate: (secret: string) => Effect.Effect<PrincipalData, Unauthenticated | Failure>
}>() {}

export const secretPrefix = "rdk_"
/** `rdk_` + 43 base64url characters (32 bytes). */
const secretPattern = /^rdk_[A-Za-z0-9_-]{43}$/

/** The stored form of a secret. */
export const hashSecret = (secret: string): string => createHash("sha256").update(secret, "utf8").digest("hex")

const newSecret = (): string => secretPrefix + randomBytes(32).toString("base64url")

const toInfo = (k: ApiKey.ApiKey): ApiKeyInfo => ({
  id: k.id,
  name: k.name,
  tenant: k.tenantId,
  access: k.access,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
  revokedAt: k.revokedAt,
  rotatedFrom: k.rotatedFrom
})

const decodeCreate = Input.decode(CreateKey, "")
const decodeId = Input.decode(Schema.Union(Schema.NumberFromString, Schema.Number).pipe(Schema.int(), Schema.positive(), Schema.brand("ApiKeyId")), "id")

const touchEveryMillis = 60_000

export const make = Effect.gen(function*() {
  const repo = yield* ApiKeyRepo.ApiKeyRepo
  const lastTouched = yield* Ref.make(new Map<number, number>())

  const insert = (key: Omit<ApiKeyRepo.NewKey, "hash">) =>
    Effect.gen(function*() {
      const secret = newSecret()
      const row = yield* repo.insert({ ...key, hash: hashSecret(secret) })
      return { key: toInfo(row), secret } satisfies CreatedKey
    })

  const create = Effect.fn("ApiKeys.create")(function*(input: CreateKeyInput) {
    const v = yield* decodeCreate(input)
    return yield* insert({ tenantId: v.tenant, name: v.name, access: v.access, rotatedFrom: null })
  })

  const list = Effect.fn("ApiKeys.list")(function*() {
    return (yield* repo.list).map(toInfo)
  })

  const revoke = Effect.fn("ApiKeys.revoke")(function*(input: { readonly id: number | string }) {
    const id = yield* decodeId(input.id)
    const row = yield* repo.revoke(id)
    if (Option.isNone(row)) return yield* new ApiKeyNotFound({ id })
    return toInfo(row.value)
  })

  const rotate = Effect.fn("ApiKeys.rotate")(function*(input: { readonly id: number | string }) {
    const id = yield* decodeId(input.id)
    const old = yield* repo.findById(id)
    if (Option.isNone(old)) return yield* new ApiKeyNotFound({ id })
    return yield* insert({ tenantId: old.value.tenantId, name: old.value.name, access: old.value.access, rotatedFrom: id })
  })

  const refused = (message: string) => Effect.fail(new Unauthenticated({ message }))

  const authenticate = Effect.fn("ApiKeys.authenticate")(function*(secret: string) {
    // Malformed keys never reach the database.
    if (!secretPattern.test(secret)) return yield* refused("the API key is malformed")
    const found = yield* repo.findByHash(hashSecret(secret))
    if (Option.isNone(found)) return yield* refused("unknown API key")
    const key = found.value
    if (key.revokedAt !== null) return yield* refused("the API key was revoked")
    const now = yield* Clock.currentTimeMillis
    const due = yield* Ref.modify(lastTouched, (m) => {
      const last = m.get(key.id)
      if (last !== undefined && now - last < touchEveryMillis) return [false, m]
      return [true, new Map(m).set(key.id, now)]
    })
    if (due) yield* repo.touch(key.id)
    return { keyId: key.id, name: key.name, tenant: key.tenantId, access: key.access } satisfies PrincipalData
  })

  return ApiKeys.of({ create, list, revoke, rotate, authenticate })
})

/** Needs SqlClient. */
export const layer = Layer.effect(ApiKeys, make).pipe(Layer.provide(ApiKeyRepo.ApiKeyRepo.Default))
