/** A row of `redrive.api_key`. Only the SHA-256 of the secret is stored. */
import { Model } from "@effect/sql"
import { Schema } from "effect"
import { ApiKeyId, TenantId } from "./Ids.js"
import { GeneratedTimestamp, NullableTimestamp } from "./internal/fields.js"

/** `write`: every operation of the key's scope; `read`: reads only. */
export const Access = Schema.Literal("write", "read")
export type Access = typeof Access.Type

export class ApiKey extends Model.Class<ApiKey>("ApiKey")({
  id: Model.Generated(ApiKeyId),
  /** null: an admin key that sees every tenant. */
  tenantId: Schema.NullOr(TenantId),
  name: Schema.String.pipe(Schema.minLength(1)),
  hash: Model.Sensitive(Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/))),
  access: Access,
  /** The key this one was rotated from (null: created, not rotated). */
  rotatedFrom: Schema.NullOr(ApiKeyId),
  createdAt: GeneratedTimestamp,
  lastUsedAt: NullableTimestamp,
  revokedAt: NullableTimestamp
}) {}
