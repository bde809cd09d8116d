/**
 * The operator's session: the API key (kept in sessionStorage: gone when the tab closes), what the
 * server says the key is (`/v1/session`), and the tenant an admin is looking at.
 */
import { createContext, useContext } from "react"
import type { Client } from "./api.js"

export interface SessionInfo {
  readonly name: string
  /** null: an admin key. */
  readonly tenant: string | null
  readonly access: "write" | "read"
}

export interface Session {
  readonly api: Client
  readonly info: SessionInfo
  /** The tenant in view: a tenant key's own; for an admin, the selected one or undefined (all). */
  readonly tenant: string | undefined
  readonly setTenant: (tenant: string | undefined) => void
  readonly canWrite: boolean
  readonly signOut: () => void
}

const storageKey = "redrive.apiKey"
export const storedKey = (): string | null => window.sessionStorage.getItem(storageKey)
export const storeKey = (key: string | null): void =>
  key === null ? window.sessionStorage.removeItem(storageKey) : window.sessionStorage.setItem(storageKey, key)

export const SessionContext = createContext<Session | null>(null)

export const useSession = (): Session => {
  const session = useContext(SessionContext)
  if (session === null) throw new Error("useSession outside a signed-in console")
  return session
}
