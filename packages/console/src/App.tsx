/** The console's shell: sign-in with an API key, the navigation, an admin's tenant selector, the page. */
import { useEffect, useMemo, useState } from "react"
import { ApiFailure, client, run } from "./api.js"
import { Alerts } from "./pages/Alerts.js"
import { Controls } from "./pages/Controls.js"
import { DeadLetter } from "./pages/DeadLetter.js"
import { DeadLetters } from "./pages/DeadLetters.js"
import { ErrorGroups } from "./pages/ErrorGroups.js"
import { Job } from "./pages/Job.js"
import { SignIn } from "./pages/SignIn.js"
import { Overview } from "./pages/Overview.js"
import { Link, useLocation } from "./router.js"
import { type Session, SessionContext, type SessionInfo, storedKey, storeKey } from "./session.js"
import { useData } from "./ui/useData.js"

const tenantStorage = "redrive.tenant"

const Page = () => {
  const { path } = useLocation()
  const id = (prefix: string) => {
    const m = new RegExp(`^/${prefix}/(\\d+)$`).exec(path)
    return m === null ? undefined : Number(m[1])
  }
  const dlq = id("dead-letters")
  const job = id("jobs")
  if (dlq !== undefined) return <DeadLetter id={dlq} />
  if (job !== undefined) return <Job id={job} />
  switch (path) {
    case "/groups":
      return <ErrorGroups />
    case "/dead-letters":
      return <DeadLetters />
    case "/controls":
      return <Controls />
    case "/alerts":
      return <Alerts />
    default:
      return <Overview />
  }
}

const TenantSelector = (props: { readonly session: Session }) => {
  const { api } = props.session
  const stats = useData(() => run(api.stats.queues()), [api])
  const tenants = [...new Set((stats.value?.queues ?? []).map((q) => q.tenantId))].sort()
  return (
    <label className="tenant">
      Tenant{" "}
      <select
        data-testid="tenant-select"
        value={props.session.tenant ?? ""}
        onChange={(e) => props.session.setTenant(e.target.value === "" ? undefined : e.target.value)}
      >
        <option value="">all tenants</option>
        {props.session.tenant !== undefined && !tenants.includes(props.session.tenant) && (
          <option value={props.session.tenant}>{props.session.tenant}</option>
        )}
        {tenants.map((t) => <option key={t} value={t}>{t}</option>)}
      </select>
    </label>
  )
}

export const App = () => {
  const [key, setKey] = useState<string | null>(storedKey)
  const [info, setInfo] = useState<SessionInfo | undefined>(undefined)
  const [failure, setFailure] = useState<ApiFailure | undefined>(undefined)
  const [chosenTenant, setChosenTenant] = useState<string | undefined>(
    () => window.sessionStorage.getItem(tenantStorage) ?? undefined
  )
  const api = useMemo(() => (key === null ? undefined : client(key)), [key])
  const { path } = useLocation()

  useEffect(() => {
    setInfo(undefined)
    if (api === undefined) return
    run(api.session.get()).then(setInfo, (e: unknown) => {
      setFailure(e instanceof ApiFailure ? e : new ApiFailure("Unknown", String(e), undefined, {}))
      storeKey(null)
      setKey(null)
    })
  }, [api])

  if (api === undefined || key === null) {
    return (
      <SignIn
        failure={failure}
        onKey={(k) => {
          setFailure(undefined)
          storeKey(k)
          setKey(k)
        }}
      />
    )
  }
  if (info === undefined) return <p className="loading">Signing in…</p>

  const session: Session = {
    api,
    info,
    tenant: info.tenant ?? chosenTenant,
    setTenant: (t) => {
      if (t === undefined) window.sessionStorage.removeItem(tenantStorage)
      else window.sessionStorage.setItem(tenantStorage, t)
      setChosenTenant(t)
    },
    canWrite: info.access === "write",
    signOut: () => {
      storeKey(null)
      setKey(null)
    }
  }
  const nav = [["/", "Overview"], ["/groups", "Error groups"], ["/dead-letters", "Dead letters"], ["/controls", "Controls"], ["/alerts", "Alerts"]] as const
  const active = (to: string) => (to === "/" ? path === "/" : path.startsWith(to)) ? "active" : undefined

  return (
    <SessionContext.Provider value={session}>
      <header>
        <strong className="brand">Redrive</strong>
        <nav>
          {nav.map(([to, label]) => (
            <Link key={to} to={to} {...(active(to) !== undefined ? { className: "active" } : {})}>{label}</Link>
          ))}
        </nav>
        <span className="who" data-testid="who">
          {info.name} · {info.tenant === null ? "admin" : `tenant ${info.tenant}`} · {info.access === "write" ? "read & write" : "read-only"}
        </span>
        {info.tenant === null
          ? <TenantSelector session={session} />
          : <span className="tenant">Tenant <b>{info.tenant}</b></span>}
        <button type="button" onClick={session.signOut}>Sign out</button>
      </header>
      {!session.canWrite && <p className="notice">This key is read-only: actions are disabled (and the server refuses them).</p>}
      <main key={session.tenant ?? "*"}>
        <Page />
      </main>
    </SessionContext.Provider>
  )
}
