/**
 * Reads and writes of `redrive.api_key` for the server's key management and authentication.
 * Keys are found by the SHA-256 of their secret (unique index); the secret itself is never stored.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Access, ApiKey } from "./ApiKey.js"
import { fromSqlError } from "./DatabaseError.js"
import { ApiKeyId, TenantId } from "./Ids.js"

export const NewKey = Schema.Struct({
  tenantId: Schema.NullOr(TenantId),
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  hash: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  access: Access,
  rotatedFrom: Schema.NullOr(ApiKeyId)
})
export type NewKey = typeof NewKey.Type

export class ApiKeyRepo extends Effect.Service<ApiKeyRepo>()("@redrive/database/ApiKeyRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertOne = SqlSchema.single({
      Request: NewKey,
      Result: ApiKey,
      execute: (k) =>
        sql`insert into redrive.api_key (tenant_id, name, hash, access, rotated_from)
            values (${k.tenantId}, ${k.name}, ${k.hash}, ${k.access}, ${k.rotatedFrom})
            returning *`
    })

    const selectAll = SqlSchema.findAll({
      Request: Schema.Void,
      Result: ApiKey,
      execute: () => sql`select * from redrive.api_key order by id`
    })

    const selectById = SqlSchema.findOne({
      Request: ApiKeyId,
      Result: ApiKey,
      execute: (id) => sql`select * from redrive.api_key where id = ${id}`
    })

    const selectByHash = SqlSchema.findOne({
      Request: Schema.String,
      Result: ApiKey,
      execute: (hash) => sql`select * from redrive.api_key where hash = ${hash}`
    })

    // Revoking twice keeps the first revocation's time.
    const revokeOne = SqlSchema.findOne({
      Request: ApiKeyId,
      Result: ApiKey,
      execute: (id) =>
        sql`update redrive.api_key set revoked_at = coalesce(revoked_at, now()) where id = ${id} returning *`
    })

    // At most one write a minute per key, whoever else touched it meanwhile.
    const touchOne = (id: ApiKeyId) =>
      sql`update redrive.api_key set last_used_at = now()
          where id = ${id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`

    return {
      insert: (key: NewKey) => insertOne(key).pipe(Effect.mapError(fromSqlError("ApiKeyRepo.insert"))),
      list: selectAll(undefined).pipe(Effect.mapError(fromSqlError("ApiKeyRepo.list"))),
      findById: (id: ApiKeyId) => selectById(id).pipe(Effect.mapError(fromSqlError("ApiKeyRepo.findById"))),
      findByHash: (hash: string) => selectByHash(hash).pipe(Effect.mapError(fromSqlError("ApiKeyRepo.findByHash"))),
      revoke: (id: ApiKeyId) => revokeOne(id).pipe(Effect.mapError(fromSqlError("ApiKeyRepo.revoke"))),
      touch: (id: ApiKeyId) => touchOne(id).pipe(Effect.asVoid, Effect.mapError(fromSqlError("ApiKeyRepo.touch")))
    } as const
  })
}) {}
