/** The API key a request carries: `Authorization: Bearer <key>` (the scheme is case-insensitive). */
import type { Headers } from "@effect/platform"
import { Option } from "effect"

export const fromAuthorization = (value: string | undefined): Option.Option<string> => {
  if (value === undefined) return Option.none()
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(value)
  return Option.fromNullable(match?.[1])
}

export const fromHeaders = (headers: Headers.Headers): Option.Option<string> =>
  fromAuthorization(headers["authorization"])
