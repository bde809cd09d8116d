/** The billing service's own table, `billing.invoice`: its model and every statement on it. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

export const InvoiceId = Schema.NumberFromString.pipe(Schema.int(), Schema.positive(), Schema.brand("InvoiceId"))
export type InvoiceId = typeof InvoiceId.Type

export const InvoiceStatus = Schema.Literal("open", "paid", "refused")

/** A Date from the database, an ISO string over HTTP (decoded from either, encoded as the string). */
const Timestamp = Schema.Union(Schema.Date, Schema.DateFromSelf)

export class Invoice extends Schema.Class<Invoice>("Invoice")({
  id: InvoiceId,
  tenantId: Schema.String,
  customer: Schema.String,
  amountCents: Schema.Int,
  status: InvoiceStatus,
  paymentRef: Schema.NullOr(Schema.String),
  createdAt: Timestamp,
  paidAt: Schema.NullOr(Timestamp)
}) {}

/** What a client sends to open an invoice. */
export const NewInvoice = Schema.Struct({
  tenantId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  customer: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  amountCents: Schema.Int.pipe(Schema.positive())
})
export type NewInvoice = typeof NewInvoice.Type

export class InvoiceRepo extends Effect.Service<InvoiceRepo>()("billing/InvoiceRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const insert = SqlSchema.single({
      Request: NewInvoice,
      Result: Invoice,
      execute: (n) =>
        sql`insert into billing.invoice (tenant_id, customer, amount_cents)
            values (${n.tenantId}, ${n.customer}, ${n.amountCents}) returning *`
    })
    const findById = SqlSchema.findOne({
      Request: Schema.Number,
      Result: Invoice,
      execute: (id) => sql`select * from billing.invoice where id = ${id}`
    })
    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: Invoice,
      execute: () => sql`select * from billing.invoice order by id`
    })
    const settle = SqlSchema.void({
      Request: Schema.Struct({ id: Schema.Number, status: InvoiceStatus, paymentRef: Schema.NullOr(Schema.String) }),
      execute: (r) =>
        sql`update billing.invoice set status = ${r.status}, payment_ref = ${r.paymentRef},
              paid_at = case when ${r.status} = 'paid' then now() end
            where id = ${r.id}`
    })
    return {
      insert,
      findById,
      /** Every invoice the connection may see: inside `Tenant.withTenant`, that tenant's only. */
      list: list(undefined),
      settle
    } as const
  })
}) {}
