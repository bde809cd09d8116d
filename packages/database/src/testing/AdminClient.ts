/** One-off superuser statements (CREATE/DROP DATABASE) on the server that tests use. */
import { Data, Effect, Redacted } from "effect"
import pg from "pg"

export class AdminError extends Data.TaggedError("Redrive/AdminError")<{ readonly message: string; readonly code?: string }> {}

const adminError = (text: string) => (cause: unknown) => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  return new AdminError({ message: `${text}: ${String(cause)}`, ...(code ? { code } : {}) })
}

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
    catch: adminError(text)
  })

/** Statements on one connection, kept for the scope (for session state such as advisory locks). */
export interface AdminSession {
  readonly query: (
    text: string,
    values?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, AdminError>
}

export const adminSession = (url: Redacted.Redacted) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new pg.Client({ connectionString: Redacted.value(url) })
          await client.connect()
          return client
        },
        catch: adminError("connect")
      }),
      (client) => Effect.promise(() => client.end().catch(() => undefined))
    ),
    (client): AdminSession => ({
      query: (text, values) =>
        Effect.tryPromise({
          try: async () => (await client.query(text, values ? [...values] : undefined)).rows as ReadonlyArray<Record<string, unknown>>,
          catch: adminError(text)
        })
    })
  )

export const quoteIdent = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`)
  return `"${name}"`
}

/** A string literal for statements that take no bind parameters (COMMENT, ALTER ROLE). */
export const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`
