/**
 * Dead-letter filters as the CLI takes them: flags (`dlq list --tenant acme --since "2 hours"`)
 * or `--filter key=value` pairs (`replay`, `purge`). Both become the library's DlqFilterInput,
 * which the library decodes (a bad value is InvalidInput naming `filter.<field>`); here only
 * the shape is checked: an unknown key or a pair without `=` names `filter`.
 */
import type { DlqFilter } from "@redrive/database"
import { Input } from "@redrive/database"
import { Clock, Duration, Effect, Option } from "effect"

/** The CLI's names of the filter's fields. */
const keys = {
  tenant: "tenantId",
  queue: "queue",
  type: "type",
  class: "errorClass",
  fingerprint: "fingerprint",
  since: "dlqFrom",
  until: "dlqTo",
  ids: "ids"
} as const
type Key = keyof typeof keys

export const keyNames = Object.keys(keys).join(", ")

const isKey = (k: string): k is Key => Object.hasOwn(keys, k)

/**
 * `--since`/`--until`: an ISO date, or a duration meaning that long ago (`"2 hours"`, `"30 days"`);
 * anything else goes to the library as it is, which refuses it naming the field.
 */
const instant = (text: string) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const ago = /^\d/.test(text) && !/^\d{4}-/.test(text) ? Duration.decodeUnknown(text) : Option.none()
    return Option.isSome(ago) ? new Date(now - Duration.toMillis(ago.value)).toISOString() : text
  })

export type Values = Partial<Record<Key, string>>

/** The filter of the given values (absent keys do not narrow). */
export const toFilter = (values: Values): Effect.Effect<DlqFilter.DlqFilterInput> =>
  Effect.gen(function*() {
    const out: { -readonly [K in keyof DlqFilter.DlqFilterInput]?: DlqFilter.DlqFilterInput[K] } = {}
    if (values.tenant !== undefined) out.tenantId = values.tenant
    if (values.queue !== undefined) out.queue = values.queue
    if (values.type !== undefined) out.type = values.type
    if (values.class !== undefined) out.errorClass = values.class
    if (values.fingerprint !== undefined) out.fingerprint = values.fingerprint
    if (values.since !== undefined) out.dlqFrom = yield* instant(values.since)
    if (values.until !== undefined) out.dlqTo = yield* instant(values.until)
    if (values.ids !== undefined) out.ids = values.ids.split(",").map((id) => id.trim())
    return out
  })

/** Values from flags given as Options (absent: None). */
export const fromFlags = (flags: { readonly [K in Key]?: Option.Option<string> }): Values => {
  const out: Values = {}
  for (const k of Object.keys(keys)) {
    if (!isKey(k)) continue
    const v = flags[k]
    if (v !== undefined && Option.isSome(v)) out[k] = v.value
  }
  return out
}

/** Values from `key=value` pairs; a repeated key is refused (a filter is a conjunction of single values). */
export const fromPairs = (pairs: ReadonlyArray<string>): Effect.Effect<Values, Input.InvalidInput> =>
  Effect.gen(function*() {
    const out: Values = {}
    for (const pair of pairs) {
      const at = pair.indexOf("=")
      const key = at < 0 ? pair : pair.slice(0, at)
      if (at < 0 || !isKey(key)) {
        return yield* new Input.InvalidInput({
          field: at < 0 ? "filter" : `filter.${key}`,
          message: at < 0
            ? `filter: expected key=value, got ${JSON.stringify(pair)} (keys: ${keyNames})`
            : `filter.${key}: unknown filter key (keys: ${keyNames})`
        })
      }
      if (out[key] !== undefined) {
        return yield* new Input.InvalidInput({ field: `filter.${key}`, message: `filter.${key}: given twice` })
      }
      out[key] = pair.slice(at + 1)
    }
    return out
  })
