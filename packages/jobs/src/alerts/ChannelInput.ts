/**
 * An alert channel as a caller writes one (AlertChannels.create / update), decoded at the
 * boundary: every field by its Schema (an unknown key is refused too: a misspelt rule would
 * otherwise be dropped silently), then the rules that depend on the kind — webhook and Slack take
 * an http(s) URL, email an smtp(s) URL and at least one recipient; a webhook signs with a secret,
 * Slack has none (its URL is the credential). A failure is an InvalidInput naming the field.
 *
 * The secret and the URL (which may hold an SMTP user, a Slack token) are checked by hand, with
 * messages that never quote them: Schema's own messages quote the value they refuse.
 */
import { Ids, Input } from "@redrive/database"
import { Effect, Option, ParseResult, Schema } from "effect"
import * as ErrorClass from "../ErrorClass.js"
import { AlertEventName } from "./AlertEvent.js"

export type ChannelKind = "webhook" | "slack" | "email"

/** The rule fields a channel has besides its kind, URL and secret (all optional: the table's defaults apply). */
export interface ChannelRules {
  /** Event names this channel wants; empty (the default) means every event but the opt-in job.recovered. */
  readonly events?: ReadonlyArray<string> | undefined
  /** Job events of these error classes only; empty (the default) means every class. */
  readonly errorClasses?: ReadonlyArray<string> | undefined
  /** Job events of priority <= this only (1–10, default 10: all). */
  readonly minPriority?: number | undefined
  /** email: the addresses the alerts go to (at least one). */
  readonly recipients?: ReadonlyArray<string> | undefined
  /** email: the From address; null (default): `redrive@<smtp host>`. */
  readonly sender?: string | null | undefined
  /** job.failing: this many failures of a (tenant, queue, type) within `failingWindowS` (default 5). */
  readonly failingAfter?: number | undefined
  /** 10–86,400 s, default 300. */
  readonly failingWindowS?: number | undefined
  /** dlq.threshold: unreplayed dead letters of a (tenant, queue) above this; null (default): never. */
  readonly dlqThreshold?: number | null | undefined
  /** Deliveries sharing a coalesce key within this many seconds go out as one digest (0–3,600, default 60). */
  readonly digestWindowS?: number | undefined
  readonly enabled?: boolean | undefined
}

export interface CreateChannelInput extends ChannelRules {
  readonly name: string
  readonly kind: ChannelKind
  /** webhook, slack: http(s)://…; email: smtp(s)://[user@]host[:port] (the password goes in `secret`). */
  readonly url: string
  /** webhook: the signing key, `whsec_<base64>` (required); email: the SMTP password; slack: none. */
  readonly secret?: string | undefined
  /** The tenant whose events it gets; null or omitted: a global channel (every tenant's events). */
  readonly tenantId?: string | null | undefined
  /** Who creates it (recorded in alert_channel_event). */
  readonly by: string
}

export interface ChannelPatch extends ChannelRules {
  readonly name?: string | undefined
  readonly url?: string | undefined
  /** A new secret (rotation), or null to clear it (not for a webhook: it must sign). */
  readonly secret?: string | null | undefined
  /** Who changes it (recorded in alert_channel_event). */
  readonly by: string
}

const maxLength = (n: number) => Schema.String.pipe(Schema.maxLength(n))

const Name = Schema.String.pipe(
  Schema.maxLength(200),
  Schema.filter((s) => s.trim() !== "" || "a channel needs a name")
)

/** A mailbox as SMTP takes it: local@domain, no display name, no spaces. */
const EmailAddress = Schema.String.pipe(
  Schema.maxLength(320),
  Schema.filter((s) =>
    /^[^\s@<>()[\],;:"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/
      .test(s) || `${JSON.stringify(s)} is not an email address`
  )
)

const knownClasses: ReadonlySet<string> = new Set(ErrorClass.builtIn)
const KnownErrorClass = Schema.String.pipe(
  Schema.filter((s) =>
    knownClasses.has(s) || `unknown error class ${JSON.stringify(s)}: known classes are ${ErrorClass.builtIn.join(", ")}`
  )
)

const Rules = {
  events: Schema.optional(Schema.Array(AlertEventName)),
  errorClasses: Schema.optional(Schema.Array(KnownErrorClass)),
  minPriority: Schema.optional(Schema.Int.pipe(Schema.between(1, 10))),
  recipients: Schema.optional(Schema.Array(EmailAddress).pipe(Schema.maxItems(100))),
  sender: Schema.optional(Schema.NullOr(EmailAddress)),
  failingAfter: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000))),
  failingWindowS: Schema.optional(Schema.Int.pipe(Schema.between(10, 86_400))),
  dlqThreshold: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 2_147_483_647)))),
  digestWindowS: Schema.optional(Schema.Int.pipe(Schema.between(0, 3_600))),
  enabled: Schema.optional(Schema.Boolean)
}

const Actor = maxLength(256).pipe(Schema.minLength(1))

const CreateSchema = Schema.Struct({
  name: Name,
  kind: Schema.Literal("webhook", "slack", "email"),
  // Checked by hand (checkUrl, checkSecret): their messages must not quote them.
  url: Schema.Unknown,
  secret: Schema.optional(Schema.Unknown),
  tenantId: Schema.optional(Schema.NullOr(Ids.TenantId)),
  by: Actor,
  ...Rules
})

const PatchSchema = Schema.Struct({
  name: Schema.optional(Name),
  url: Schema.optional(Schema.Unknown),
  secret: Schema.optional(Schema.Unknown),
  by: Actor,
  ...Rules
})

const decodeStrict = <A, I>(schema: Schema.Schema<A, I>) => {
  const run = Schema.decodeUnknown(schema, { onExcessProperty: "error" })
  return (input: unknown): Effect.Effect<A, Input.InvalidInput> =>
    Effect.mapError(run(input), (error: ParseResult.ParseError) => Input.fromParseError("", error))
}

const invalid = (field: string, reason: string) => new Input.InvalidInput({ field, message: `${field}: ${reason}` })

/** The channel's rule values, deduplicated where they are sets, only those given. */
export interface RuleValues {
  readonly events?: ReadonlyArray<string>
  readonly errorClasses?: ReadonlyArray<string>
  readonly minPriority?: number
  readonly recipients?: ReadonlyArray<string>
  readonly sender?: string | null
  readonly failingAfter?: number
  readonly failingWindowS?: number
  readonly dlqThreshold?: number | null
  readonly digestWindowS?: number
  readonly enabled?: boolean
}

export interface NewChannel extends RuleValues {
  readonly name: string
  readonly kind: ChannelKind
  readonly url: string
  readonly secret: string | null
  /** undefined: not given (the tenant of the enclosing block, else global); null: global. */
  readonly tenantId: string | null | undefined
  readonly by: string
}

export interface PatchValues extends RuleValues {
  readonly name?: string
  readonly url?: string
  /** Present when the patch sets it: a new secret, or null to clear it. */
  readonly secret?: string | null
  readonly by: string
}

const unique = (values: ReadonlyArray<string>) => [...new Set(values)]

type DecodedRules = { readonly [K in keyof typeof Rules]?: Schema.Schema.Type<typeof Rules[K]> }

/** Copies the rules given (and only those), with sets deduplicated. */
const rulesOf = (r: DecodedRules): RuleValues => ({
  ...(r.events !== undefined ? { events: unique(r.events) } : {}),
  ...(r.errorClasses !== undefined ? { errorClasses: unique(r.errorClasses) } : {}),
  ...(r.minPriority !== undefined ? { minPriority: r.minPriority } : {}),
  ...(r.recipients !== undefined ? { recipients: unique(r.recipients) } : {}),
  ...(r.sender !== undefined ? { sender: r.sender } : {}),
  ...(r.failingAfter !== undefined ? { failingAfter: r.failingAfter } : {}),
  ...(r.failingWindowS !== undefined ? { failingWindowS: r.failingWindowS } : {}),
  ...(r.dlqThreshold !== undefined ? { dlqThreshold: r.dlqThreshold } : {}),
  ...(r.digestWindowS !== undefined ? { digestWindowS: r.digestWindowS } : {}),
  ...(r.enabled !== undefined ? { enabled: r.enabled } : {})
})

/** A URL for `kind`: http(s) for webhook and Slack, smtp(s) with no password for email. */
const checkUrl = (kind: ChannelKind, value: unknown): Effect.Effect<string, Input.InvalidInput> => {
  if (typeof value !== "string") return Effect.fail(invalid("url", "must be a string"))
  if (value.length > 2048) return Effect.fail(invalid("url", "longer than 2,048 characters"))
  const parsed = Option.liftThrowable(() => new URL(value))()
  if (Option.isNone(parsed) || parsed.value.hostname === "") return Effect.fail(invalid("url", "not a URL with a host"))
  const url = parsed.value
  if (kind === "email") {
    if (url.protocol !== "smtp:" && url.protocol !== "smtps:") {
      return Effect.fail(invalid("url", "an email channel needs an smtp:// or smtps:// URL"))
    }
    if (url.password !== "") {
      return Effect.fail(invalid("url", "the SMTP password goes in `secret`, not in the URL"))
    }
  } else if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Effect.fail(invalid("url", `a ${kind} channel needs an http:// or https:// URL`))
  }
  return Effect.succeed(value)
}

/** A webhook signing key: `whsec_` (optional) and base64 of 16–64 bytes, as Standard Webhooks uses. */
const isSigningKey = (s: string) => {
  const b64 = s.startsWith("whsec_") ? s.slice(6) : s
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return false
  const bytes = Buffer.from(b64, "base64").length
  return bytes >= 16 && bytes <= 64
}

/** A secret given for `kind` (never quoted back). */
const checkSecret = (kind: ChannelKind, value: unknown): Effect.Effect<string | null, Input.InvalidInput> => {
  if (value === null) return Effect.succeed(null)
  if (typeof value !== "string") return Effect.fail(invalid("secret", "must be a string"))
  if (kind === "slack") return Effect.fail(invalid("secret", "a Slack channel has no secret: its URL is the credential"))
  if (kind === "webhook" && !isSigningKey(value)) {
    return Effect.fail(invalid("secret", "a webhook secret is `whsec_` followed by base64 of 16 to 64 bytes"))
  }
  if (value === "" || value.length > 1024) return Effect.fail(invalid("secret", "must be 1 to 1,024 characters"))
  return Effect.succeed(value)
}

/** The channel as it will be after a create or an update, for the rules across fields. */
export interface ChannelState {
  readonly kind: ChannelKind
  readonly url: string
  readonly hasSecret: boolean
  readonly recipients: ReadonlyArray<string>
  readonly sender: string | null
}

/** The rules across fields, on the state a write leaves. */
export const checkState = (s: ChannelState): Effect.Effect<void, Input.InvalidInput> => {
  if (s.kind === "email") {
    if (s.recipients.length === 0) return Effect.fail(invalid("recipients", "an email channel needs at least one recipient"))
    const user = Option.getOrUndefined(Option.liftThrowable(() => new URL(s.url).username)())
    if (s.hasSecret && (user === undefined || user === "")) {
      return Effect.fail(invalid("secret", "an SMTP password needs a user in the URL (smtp://user@host)"))
    }
    return Effect.void
  }
  if (s.recipients.length > 0) return Effect.fail(invalid("recipients", "only email channels have recipients"))
  if (s.sender !== null) return Effect.fail(invalid("sender", "only email channels have a sender"))
  if (s.kind === "webhook" && !s.hasSecret) {
    return Effect.fail(invalid("secret", "a webhook channel needs a secret to sign its messages with"))
  }
  return Effect.void
}

export const decodeCreate = (input: CreateChannelInput): Effect.Effect<NewChannel, Input.InvalidInput> =>
  Effect.gen(function*() {
    const d = yield* decodeStrict(CreateSchema)(input)
    const url = yield* checkUrl(d.kind, d.url)
    const secret = d.secret === undefined ? null : yield* checkSecret(d.kind, d.secret)
    const rules = rulesOf(d)
    yield* checkState({
      kind: d.kind,
      url,
      hasSecret: secret !== null,
      recipients: rules.recipients ?? [],
      sender: rules.sender ?? null
    })
    return { ...rules, name: d.name, kind: d.kind, url, secret, tenantId: d.tenantId, by: d.by }
  })

/** A patch, field by field; `checkState` on the merged channel is the caller's (it needs the row). */
export const decodePatch = (kind: ChannelKind, input: ChannelPatch): Effect.Effect<PatchValues, Input.InvalidInput> =>
  Effect.gen(function*() {
    const d = yield* decodeStrict(PatchSchema)(input)
    const url = d.url === undefined ? undefined : yield* checkUrl(kind, d.url)
    const secret = d.secret === undefined ? undefined : yield* checkSecret(kind, d.secret)
    return {
      ...rulesOf(d),
      ...(d.name !== undefined ? { name: d.name } : {}),
      ...(url !== undefined ? { url } : {}),
      ...(secret !== undefined ? { secret } : {}),
      by: d.by
    }
  })

/** The fields a patch sets, by name (the audit trail's `fields`: names only, never values). */
export const fieldsOf = (patch: PatchValues): ReadonlyArray<string> =>
  Object.keys(patch).filter((k) => k !== "by").sort()

/** The URL with any password in it masked (an SMTP URL written by SQL may carry one). */
export const maskUrl = (url: string): string => {
  const parsed = Option.getOrUndefined(Option.liftThrowable(() => new URL(url))())
  if (parsed === undefined || parsed.password === "") return url
  parsed.password = "****"
  return parsed.toString()
}
