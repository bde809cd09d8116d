/** One-off superuser statements (CREATE/DROP DATABASE) on the server that tests use. */
import { Data, Effect, Redacted } from "effect"
import pg from "pg"

export class AdminError extends Data.TaggedError("AdminError")<{ readonly message: string; readonly code?: string }> {}

export const adminQuery = (url: Redacted.Redacted, text: string) =>
  Effect.tryPromise({
    try: async () => {
      const client = new pg.Client({ connectionString: Redacted.value(url) })
      await client.connect()
      try {
        return (await client.query(text)).rows as ReadonlyArray<Record<string, unknown>>
      } finally {
        await client.end()
      }
    },
    catch: (cause) => {
      const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
      return new AdminError({ message: `${text}: ${String(cause)}`, ...(code ? { code } : {}) })
    }
  })

export const quoteIdent = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`)
  return `"${name}"`
}
