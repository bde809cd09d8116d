/**
 * Who a request acts as, once its API key is authenticated: an admin (tenant null, every tenant)
 * or one tenant, with write or read access. Transports provide it to the operations.
 */
import { Context, Schema } from "effect"

export const Access = Schema.Literal("write", "read")
export type Access = typeof Access.Type

export const PrincipalSchema = Schema.Struct({
  keyId: Schema.Number,
  /** The key's name: recorded as the actor of what it does (`replayed_by`, control audit rows). */
  name: Schema.String,
  /** null: an admin key. */
  tenant: Schema.NullOr(Schema.String),
  access: Access
})
export type PrincipalData = typeof PrincipalSchema.Type

export class Principal extends Context.Tag("@redrive/server/Principal")<Principal, PrincipalData>() {}

/** The actor a principal's writes are recorded under. */
export const actor = (p: PrincipalData): string => `key:${p.name}`
