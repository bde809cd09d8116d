/**
 * Size limits, all in UTF-8 bytes of what is stored. Payloads over their limit are refused
 * before anything is written (`PayloadTooLarge`); history messages and stacks are truncated on a
 * character boundary with a marker, never refused, so a failing job is always recorded. The
 * item limit of filter lists (`DlqFilter.maxIds`) is part of the filter's Schema.
 *
 * Read once per process: `Current` defaults to the environment (`config`), read the first time
 * it is used (reading Config on every enqueue cost ~180 µs, more than the rest of an enqueue).
 * `layer(partial)` or `layerConfig` provide other values.
 */
import { DlqFilter } from "@redrive/database"
import { Config, type ConfigError, ConfigProvider, Context, Effect, Layer } from "effect"
import { PayloadTooLarge } from "./OperationErrors.js"
export { PayloadTooLarge } from "./OperationErrors.js"

export interface Limits {
  /** One job's payload, as encoded JSON (REDRIVE_MAX_PAYLOAD_BYTES). */
  readonly payloadBytes: number
  /** All payloads of one `Enqueue.many`, as one encoded JSON array (REDRIVE_MAX_BATCH_BYTES). */
  readonly batchBytes: number
  /** A history entry's error message, and a dead letter's reason (REDRIVE_MAX_MESSAGE_BYTES). */
  readonly messageBytes: number
  /** A history entry's stack (REDRIVE_MAX_STACK_BYTES). */
  readonly stackBytes: number
}

export const defaults: Limits = {
  payloadBytes: 1024 * 1024,
  batchBytes: 16 * 1024 * 1024,
  messageBytes: 4 * 1024,
  stackBytes: 16 * 1024
}

/** Items of a filter list (a DlqFilter's `ids`); fixed, as it is part of the filter's Schema. */
export const filterItems = DlqFilter.maxIds

/** Appended to a truncated message or stack; counted within the limit. */
export const truncatedMarker = "…[truncated]"

const bytes = (name: string, fallback: number, description: string) =>
  Config.integer(name).pipe(
    // Room for the truncation marker, and no limit that would refuse every payload.
    Config.validate({ message: `${name} must be an integer of at least 64`, validation: (n) => n >= 64 }),
    Config.withDefault(fallback),
    Config.withDescription(description)
  )

export const config: Config.Config<Limits> = Config.all({
  payloadBytes: bytes("REDRIVE_MAX_PAYLOAD_BYTES", defaults.payloadBytes, "Most UTF-8 bytes of one job's encoded payload"),
  batchBytes: bytes("REDRIVE_MAX_BATCH_BYTES", defaults.batchBytes, "Most UTF-8 bytes of one Enqueue.many's payloads"),
  messageBytes: bytes("REDRIVE_MAX_MESSAGE_BYTES", defaults.messageBytes, "History messages are truncated to this"),
  stackBytes: bytes("REDRIVE_MAX_STACK_BYTES", defaults.stackBytes, "History stacks are truncated to this")
})

/** The limits in force: the environment's, read on first use, unless a layer provides others. */
export class Current extends Context.Reference<Current>()("@redrive/jobs/Limits", {
  defaultValue: (): Limits => Effect.runSync(Effect.withConfigProvider(Effect.orDie(config), ConfigProvider.fromEnv()))
}) {}

export const layer = (limits: Partial<Limits> = {}): Layer.Layer<never> =>
  Layer.succeed(Current, { ...defaults, ...limits })

/** The limits read through the ambient ConfigProvider. */
export const layerConfig: Layer.Layer<never, ConfigError.ConfigError> = Layer.effect(Current, config)

export const byteLength = (text: string): number => Buffer.byteLength(text, "utf8")

/** The JSON's size against `limit`, as a PayloadTooLarge naming `field`. */
export const checkBytes = (field: string, json: string, limit: number): Effect.Effect<void, PayloadTooLarge> => {
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: short strings skip the count.
  if (json.length * 3 <= limit) return Effect.void
  const size = byteLength(json)
  return size > limit ? Effect.fail(new PayloadTooLarge({ field, bytes: size, limit })) : Effect.void
}

/**
 * `text` in at most `maxBytes` UTF-8 bytes: unchanged when it fits, else cut on a character
 * boundary and ended with `truncatedMarker`.
 */
export const truncate = (text: string, maxBytes: number): string => {
  if (text.length * 3 <= maxBytes) return text
  const encoded = Buffer.from(text, "utf8")
  if (encoded.length <= maxBytes) return text
  let end = Math.max(0, maxBytes - byteLength(truncatedMarker))
  // Back up over continuation bytes (10xxxxxx) so the cut falls before a character's first byte.
  while (end > 0 && (encoded[end]! & 0xc0) === 0x80) end--
  return `${encoded.subarray(0, end).toString("utf8")}${truncatedMarker}`
}
