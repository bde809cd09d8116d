/**
 * The fake outside world the demo's handlers talk to, as Effect services:
 *   Mailer          a mail provider: rejects malformed addresses (422), and is briefly
 *                   unavailable (503) for one send in five; the retry goes through.
 *   InvoiceRenderer renders invoices, with a bug: a negative amount (a credit note) crashes it
 *                   with a TypeError until `fixCreditNotes` ships the fix.
 *   CrmApi          a CRM limited to 150 calls/s by a token bucket; over it, 429 with a
 *                   Retry-After that gives each rejected caller its own later turn.
 *   PartnerApi      a partner's order API that goes down (every call a 503 after a short
 *                   wait) and comes back when the demo says so.
 */
import { Clock, Context, Data, Effect, HashSet, Layer, Random, Ref } from "effect"

/** An HTTP-ish failure of a fake API: the handlers map it onto Redrive's error classes. */
export class ApiError extends Data.TaggedError("ApiError")<{
  readonly api: string
  readonly status: number
  readonly message: string
  readonly retryAfterMillis?: number
}> {}

const latency = (min: number, max: number) =>
  Effect.flatMap(Random.nextIntBetween(min, max), (ms) => Effect.sleep(`${ms} millis`))

// ---------------------------------------------------------------------------------------------

export class Mailer extends Context.Tag("demo/Mailer")<Mailer, {
  readonly send: (to: string, template: string, customerId: number) => Effect.Effect<void, ApiError>
}>() {}

const addressProblem = (to: string): string | undefined => {
  const at = to.indexOf("@")
  if (at < 0) return `missing "@"`
  if (at === to.length - 1) return "missing domain"
  return undefined
}

export const MailerLive = Layer.effect(
  Mailer,
  Effect.gen(function*() {
    // Which sends already met the outage: their retry goes through.
    const seen = yield* Ref.make(HashSet.empty<number>())
    return {
      send: (to, _template, customerId) =>
        Effect.gen(function*() {
          yield* latency(5, 25)
          const problem = addressProblem(to)
          if (problem !== undefined) {
            return yield* new ApiError({ api: "mail", status: 422, message: `malformed address "${to}": ${problem}` })
          }
          const firstTry = yield* Ref.modify(seen, (s) => [!HashSet.has(s, customerId), HashSet.add(s, customerId)])
          if (firstTry && customerId % 5 === 2) {
            return yield* new ApiError({ api: "mail", status: 503, message: "mail provider: 503 Service Unavailable" })
          }
        })
    }
  })
)

// ---------------------------------------------------------------------------------------------

export interface Invoice {
  readonly invoiceId: string
  readonly amountCents: number
  readonly currency: string
}

export class InvoiceRenderer extends Context.Tag("demo/InvoiceRenderer")<InvoiceRenderer, {
  readonly render: (invoice: Invoice) => Effect.Effect<void>
  /** Ships the fix: negative amounts render as credit notes from now on. */
  readonly fixCreditNotes: Effect.Effect<void>
}>() {}

interface TaxBracket {
  readonly from: number
  readonly rate: number
}
const brackets: ReadonlyArray<TaxBracket> = [{ from: 100_000, rate: 0.2 }, { from: 10_000, rate: 0.1 }, { from: 0, rate: 0 }]

/** The bug: `!` assumes every amount falls in a bracket; a negative one does not. */
const taxFor = (amountCents: number): number => Math.round(amountCents * brackets.find((b) => amountCents >= b.from)!.rate)

const renderPdf = (invoice: Invoice): number => invoice.amountCents + taxFor(invoice.amountCents)

export const InvoiceRendererLive = Layer.effect(
  InvoiceRenderer,
  Effect.gen(function*() {
    const creditNotes = yield* Ref.make(false)
    return {
      render: (invoice) =>
        Effect.gen(function*() {
          yield* latency(10, 30)
          const fixed = yield* Ref.get(creditNotes)
          // A throw inside Effect.sync is a defect: the worker records it with its stack.
          yield* Effect.sync(() =>
            fixed && invoice.amountCents < 0
              ? renderPdf({ ...invoice, amountCents: 0 }) + invoice.amountCents
              : renderPdf(invoice)
          )
        }),
      fixCreditNotes: Ref.set(creditNotes, true)
    }
  })
)

// ---------------------------------------------------------------------------------------------

export class CrmApi extends Context.Tag("demo/CrmApi")<CrmApi, {
  readonly upsertContact: (contactId: string) => Effect.Effect<void, ApiError>
}>() {}

export const crmRatePerSecond = 150
const crmBurst = 20

interface Bucket {
  readonly tokens: number
  readonly at: number
  /** The last turn handed to a rejected caller. */
  readonly lastTurn: number
}

export const CrmApiLive = Layer.effect(
  CrmApi,
  Effect.gen(function*() {
    const interval = 1000 / crmRatePerSecond
    const bucket = yield* Ref.make<Bucket>({ tokens: crmBurst, at: yield* Clock.currentTimeMillis, lastTurn: 0 })
    /** Takes a token, or returns how long to wait for this caller's turn. */
    const take = (now: number) =>
      Ref.modify(bucket, (b): [number | undefined, Bucket] => {
        const tokens = Math.min(crmBurst, b.tokens + (now - b.at) / interval)
        if (tokens >= 1) return [undefined, { ...b, tokens: tokens - 1, at: now }]
        const turn = Math.max(now + (1 - tokens) * interval, b.lastTurn + interval)
        return [Math.ceil(turn - now), { tokens, at: now, lastTurn: turn }]
      })
    return {
      upsertContact: (_contactId) =>
        Effect.gen(function*() {
          const retryAfterMillis = yield* Effect.flatMap(Clock.currentTimeMillis, take)
          if (retryAfterMillis !== undefined) {
            return yield* new ApiError({ api: "crm", status: 429, message: "crm: 429 Too Many Requests", retryAfterMillis })
          }
          yield* latency(5, 15)
        })
    }
  })
)

// ---------------------------------------------------------------------------------------------

export class PartnerApi extends Context.Tag("demo/PartnerApi")<PartnerApi, {
  readonly notify: (orderId: string) => Effect.Effect<void, ApiError>
  readonly goDown: Effect.Effect<void>
  readonly comeBack: Effect.Effect<void>
}>() {}

export const PartnerApiLive = Layer.effect(
  PartnerApi,
  Effect.gen(function*() {
    const up = yield* Ref.make(true)
    return {
      notify: (_orderId) =>
        Effect.gen(function*() {
          if (yield* Ref.get(up)) return yield* latency(5, 15)
          // A dependency that is down answers slowly, and badly.
          yield* latency(20, 40)
          return yield* new ApiError({ api: "partner", status: 503, message: "partner API: 503 Service Unavailable" })
        }),
      goDown: Ref.set(up, false),
      comeBack: Ref.set(up, true)
    }
  })
)

export const layer = Layer.mergeAll(MailerLive, InvoiceRendererLive, CrmApiLive, PartnerApiLive)
