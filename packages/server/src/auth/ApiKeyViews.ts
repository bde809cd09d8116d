/** API keys as the API shows them: definitions only (shared by the server and the console's bundle). */
import * as ApiKey from "@redrive/database/ApiKey"
import { Schema } from "effect"

/** A key as listed: never its hash nor its secret. */
export const ApiKeyInfo = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  tenant: Schema.NullOr(Schema.String),
  access: ApiKey.Access,
  createdAt: Schema.Date,
  lastUsedAt: Schema.NullOr(Schema.Date),
  revokedAt: Schema.NullOr(Schema.Date),
  rotatedFrom: Schema.NullOr(Schema.Number)
})
export type ApiKeyInfo = typeof ApiKeyInfo.Type

/** A new key and its secret: the only time the secret is returned. */
export const CreatedKey = Schema.Struct({ key: ApiKeyInfo, secret: Schema.String })
export type CreatedKey = typeof CreatedKey.Type
