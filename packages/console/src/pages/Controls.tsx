/**
 * Pause (with a reason), resume and drain a scope (tenant, queue), each confirmed and audited under
 * the key's name; a drain shows its progress until it is drained; the audit trail below.
 */
import { type FormEvent, useState } from "react"
import { run } from "../api.js"
import { useSession } from "../session.js"
import { Confirm } from "../ui/Confirm.js"
import { ErrorText } from "../ui/ErrorText.js"
import { ago, dateTime } from "../ui/format.js"
import { useData } from "../ui/useData.js"

export const Controls = () => {
  const { api, tenant, info, canWrite } = useSession()
  const controls = useData(() => run(api.controls.list()), [api], 2000)
  const stats = useData(() => run(api.stats.queues()), [api], 2000)
  const events = useData(() => run(api.controls.events({ urlParams: { limit: 100 } })), [api], 5000)
  const [scopeTenant, setScopeTenant] = useState(tenant ?? "*")
  const [queue, setQueue] = useState("*")
  const [reason, setReason] = useState("")
  const [message, setMessage] = useState<string | undefined>(undefined)

  const inView = (t: string) => tenant === undefined || t === tenant || t === "*"
  const rows = (controls.value ?? []).filter((c) => inView(c.tenantId))
  const scope = { tenantId: info.tenant ?? scopeTenant, queue }
  const reload = () => {
    controls.reload()
    events.reload()
    stats.reload()
  }
  /** Jobs still running in a draining scope: what the drain waits for. */
  const running = (t: string, q: string) =>
    (stats.value?.queues ?? [])
      .filter((s) => (t === "*" || s.tenantId === t) && (q === "*" || s.queue === q))
      .reduce((n, s) => n + s.running, 0)
  const noSubmit = (e: FormEvent) => e.preventDefault()

  return (
    <section>
      <h1>Controls</h1>
      <form className="filters" onSubmit={noSubmit}>
        <label>
          Tenant
          <input
            name="tenant"
            value={info.tenant ?? scopeTenant}
            disabled={info.tenant !== null}
            onChange={(e) => setScopeTenant(e.target.value)}
          />
        </label>
        <label>Queue<input name="queue" value={queue} onChange={(e) => setQueue(e.target.value)} /></label>
        <label>Reason<input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} placeholder="why (required to pause)" /></label>
        <Confirm
          label="Pause"
          testId="pause"
          disabled={reason.trim() === ""}
          question={`Pause ${scope.tenantId} / ${scope.queue}? Its waiting jobs stay until resumed.`}
          onConfirm={async () => {
            const r = await run(api.controls.pause({ payload: { ...scope, reason: reason.trim() } }))
            setMessage(`Paused; ${r.moved} waiting job${r.moved === 1 ? "" : "s"} held.`)
            reload()
          }}
        />
        <Confirm
          label="Resume"
          testId="resume"
          question={`Resume ${scope.tenantId} / ${scope.queue}?`}
          onConfirm={async () => {
            const r = await run(api.controls.resume({ payload: scope }))
            setMessage(r.control === null ? "Nothing to resume in that scope." : `Resumed; ${r.moved} job${r.moved === 1 ? "" : "s"} released.`)
            reload()
          }}
        />
        <Confirm
          label="Drain"
          testId="drain"
          question={`Drain ${scope.tenantId} / ${scope.queue}? Running jobs finish; nothing new starts.`}
          onConfirm={async () => {
            const r = await run(api.controls.drain({ payload: scope }))
            setMessage(`Draining; ${r.moved} waiting job${r.moved === 1 ? "" : "s"} held.`)
            reload()
          }}
        />
      </form>
      {!canWrite && <p className="hint">Read-only key: pause, resume and drain are disabled.</p>}
      {message !== undefined && <p className="notice" data-testid="control-message">{message}</p>}
      <ErrorText error={controls.error ?? events.error} />
      <h2>Scopes in force</h2>
      <table data-testid="controls">
        <thead>
          <tr><th>Tenant</th><th>Queue</th><th>Type</th><th>State</th><th>Reason</th><th>By</th><th>Since</th><th>Actions</th></tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={`${c.tenantId}/${c.queue}/${c.type}`} data-scope={`${c.tenantId}/${c.queue}`}>
              <td>{c.tenantId}</td>
              <td>{c.queue}</td>
              <td>{c.type}</td>
              <td>
                <span className={`state ${c.state}`}>{c.state}</span>
                {c.state === "draining" && <span className="hint"> {running(c.tenantId, c.queue)} still running</span>}
                {c.state === "drained" && c.drainCompletedAt !== null && <span className="hint"> at {dateTime(c.drainCompletedAt)}</span>}
              </td>
              <td>{c.reason ?? "—"}</td>
              <td>{c.initiatedBy}</td>
              <td title={dateTime(c.initiatedAt)}>{ago(c.initiatedAt)}</td>
              <td>
                {c.type === "*" && (
                  <Confirm
                    label="Resume"
                    disabled={info.tenant !== null && c.tenantId !== info.tenant}
                    question={`Resume ${c.tenantId} / ${c.queue}?`}
                    onConfirm={async () => {
                      await run(api.controls.resume({ payload: { tenantId: c.tenantId, queue: c.queue } }))
                      reload()
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
          {rows.length === 0 && <tr><td colSpan={8} className="empty">Nothing is paused or draining.</td></tr>}
        </tbody>
      </table>
      <h2>Audit trail</h2>
      <table data-testid="audit">
        <thead><tr><th>When</th><th>Action</th><th>Tenant</th><th>Queue</th><th>Type</th><th>By</th><th>Reason</th></tr></thead>
        <tbody>
          {(events.value ?? []).filter((e) => inView(e.tenantId)).map((e) => (
            <tr key={e.id}>
              <td title={dateTime(e.at)}>{ago(e.at)}</td>
              <td>{e.action}</td>
              <td>{e.tenantId}</td>
              <td>{e.queue}</td>
              <td>{e.type}</td>
              <td>{e.actor}</td>
              <td>{e.reason ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
