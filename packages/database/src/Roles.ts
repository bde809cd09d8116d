/**
 * The database roles Redrive runs as (created by migrations/0014_roles.sql), and how a local
 * setup reaches them.
 *
 *   redrive_owner    owns the schema; nobody connects as it
 *   redrive_runtime  the library and the server: DATABASE_URL
 *   redrive_tenant   tenant-scoped work (`Tenant.withTenant`), on a pool of its own
 *
 * Migrations run as an administrator; the library never does.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Redacted } from "effect"

export const owner = "redrive_owner"
export const runtime = "redrive_runtime"
export const tenant = "redrive_tenant"

/** `url` with another user, and another password when one is given (else the same). */
export const withUser = (url: Redacted.Redacted, user: string, password?: Redacted.Redacted): Redacted.Redacted => {
  const u = new URL(Redacted.value(url))
  u.username = encodeURIComponent(user)
  if (password !== undefined) u.password = encodeURIComponent(Redacted.value(password))
  return Redacted.make(u.toString())
}

/** The password in a URL, if it has one. */
export const passwordOf = (url: Redacted.Redacted): Redacted.Redacted | undefined => {
  const password = new URL(Redacted.value(url)).password
  return password === "" ? undefined : Redacted.make(decodeURIComponent(password))
}

/**
 * For local setups only — the embedded server, the test suites, the demo: the login roles get
 * the administrator's password, so one URL is all a developer needs, and the runtime's URL is
 * the administrator's with the user changed. Run on an administrator's connection after
 * migrating. The library and `migrate` against DATABASE_URL never call it: in production an
 * operator sets these passwords (`\password redrive_runtime` in psql).
 */
export const shareAdminPassword = (adminUrl: Redacted.Redacted) =>
  Effect.gen(function*() {
    const password = passwordOf(adminUrl)
    if (password === undefined) return
    const sql = yield* SqlClient.SqlClient
    // ALTER ROLE takes no bind parameters: quote the literal.
    const literal = `'${Redacted.value(password).replace(/'/g, "''")}'`
    for (const role of [runtime, tenant]) {
      yield* sql.unsafe(`alter role ${role} password ${literal}`)
    }
  })

/** The runtime's URL on a local setup (see `shareAdminPassword`). */
export const localRuntimeUrl = (adminUrl: Redacted.Redacted) => withUser(adminUrl, runtime)
