/**
 * Alert channels (the secret is never sent back: only whether one is set; URLs show their host),
 * each channel's deliveries with state, tries and the last error, a delivery's tries, and a test
 * alert.
 */
import { useState } from "react"
import { run } from "../api.js"
import { useSession } from "../session.js"
import { Confirm } from "../ui/Confirm.js"
import { ErrorText } from "../ui/ErrorText.js"
import { ago, dateTime } from "../ui/format.js"
import { useData } from "../ui/useData.js"

/** A webhook or Slack URL can itself be a credential: show its scheme and host only. */
const maskUrl = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}/…`
  } catch {
    return "(unparseable URL)"
  }
}

const Attempts = (props: { readonly deliveryId: number }) => {
  const { api } = useSession()
  const attempts = useData(() => run(api.alertChannels.attempts({ path: { id: props.deliveryId } })), [api, props.deliveryId])
  return (
    <>
      <ErrorText error={attempts.error} />
      <ul className="attempts">
        {(attempts.value ?? []).map((a) => (
          <li key={a.id}>
            try {a.attempt}: <b>{a.outcome}</b> {a.statusCode !== null && <>HTTP {a.statusCode}</>} in {a.durationMs} ms,{" "}
            {dateTime(a.at)}{a.error !== null && <span className="error"> {a.error}</span>}
          </li>
        ))}
        {attempts.value?.length === 0 && <li className="empty">Not tried yet.</li>}
      </ul>
    </>
  )
}

const Deliveries = (props: { readonly channelId: number }) => {
  const { api } = useSession()
  const deliveries = useData(
    () => run(api.alertChannels.deliveries({ path: { id: props.channelId }, urlParams: { limit: 50 } })),
    [api, props.channelId],
    3000
  )
  const [open, setOpen] = useState<number | undefined>(undefined)
  return (
    <>
      <ErrorText error={deliveries.error} />
      <table data-testid="deliveries">
        <thead><tr><th className="num">Id</th><th>Event</th><th>State</th><th className="num">Tries</th><th>Last status</th><th>Last error</th><th>Created</th><th /></tr></thead>
        <tbody>
          {(deliveries.value ?? []).map((d) => (
            <tr key={d.id}>
              <td className="num">{d.id}</td>
              <td>{d.event}</td>
              <td><span className={`state ${d.state}`}>{d.state}</span></td>
              <td className="num">{d.attempts}</td>
              <td>{d.lastStatus ?? "—"}</td>
              <td className="reason">{d.lastError ?? "—"}</td>
              <td title={dateTime(d.createdAt)}>{ago(d.createdAt)}</td>
              <td>
                <button type="button" onClick={() => setOpen(open === d.id ? undefined : d.id)}>{open === d.id ? "Hide tries" : "Tries"}</button>
                {open === d.id && <Attempts deliveryId={d.id} />}
              </td>
            </tr>
          ))}
          {deliveries.value?.length === 0 && <tr><td colSpan={8} className="empty">No deliveries.</td></tr>}
        </tbody>
      </table>
    </>
  )
}

export const Alerts = () => {
  const { api, tenant, info } = useSession()
  const channels = useData(
    () => run(api.alertChannels.list({ urlParams: tenant !== undefined && info.tenant === null ? { tenantId: tenant } : {} })),
    [api, tenant]
  )
  const [selected, setSelected] = useState<number | undefined>(undefined)
  const [sent, setSent] = useState<string | undefined>(undefined)
  return (
    <section>
      <h1>Alerts</h1>
      <ErrorText error={channels.error} />
      {sent !== undefined && <p className="notice">{sent}</p>}
      <table data-testid="channels">
        <thead><tr><th>Name</th><th>Kind</th><th>Tenant</th><th>URL</th><th>Secret</th><th>Events</th><th>Enabled</th><th>Actions</th></tr></thead>
        <tbody>
          {(channels.value ?? []).map((c) => (
            <tr key={c.id} className={selected === c.id ? "selected" : undefined}>
              <td>{c.name}</td>
              <td>{c.kind}</td>
              <td>{c.tenantId ?? "all (global)"}</td>
              <td><code>{maskUrl(c.url)}</code></td>
              <td>{c.hasSecret ? "set (hidden)" : "none"}</td>
              <td>{c.events.length === 0 ? "all" : c.events.join(", ")}</td>
              <td>{c.enabled ? "yes" : "no"}</td>
              <td>
                <button type="button" onClick={() => setSelected(selected === c.id ? undefined : c.id)}>Deliveries</button>
                <Confirm
                  label="Send test"
                  testId="send-test"
                  question={`Send a test alert to ${c.name}?`}
                  onConfirm={async () => {
                    const r = await run(api.alertChannels.test({ path: { id: c.id } }))
                    setSent(`Test alert queued as delivery ${r.deliveryId}.`)
                    setSelected(c.id)
                  }}
                />
              </td>
            </tr>
          ))}
          {channels.value?.length === 0 && <tr><td colSpan={8} className="empty">No alert channels.</td></tr>}
        </tbody>
      </table>
      {selected !== undefined && (
        <>
          <h2>Deliveries of channel {selected}</h2>
          <Deliveries channelId={selected} />
        </>
      )}
    </section>
  )
}
