/**
 * The DLQ: filters (in the URL, so a view can be shared), keyset pages (newest first), a selection
 * or "all matching" replayed as one bulk request (a dry run's count first), then its progress.
 */
import { type FormEvent, useState } from "react"
import { run } from "../api.js"
import { Link, navigate, useLocation } from "../router.js"
import { useSession } from "../session.js"
import { Confirm } from "../ui/Confirm.js"
import { ErrorText } from "../ui/ErrorText.js"
import { ago, dateTime } from "../ui/format.js"
import { ReplayProgress } from "../ui/ReplayProgress.js"
import { useData } from "../ui/useData.js"

const fields = ["queue", "type", "errorClass", "fingerprint", "from", "to", "reason"] as const
type Field = typeof fields[number]
const labels: Record<Field, string> = {
  queue: "Queue",
  type: "Type",
  errorClass: "Class",
  fingerprint: "Fingerprint",
  from: "From",
  to: "To",
  reason: "Reason contains"
}

/** A datetime-local value (the browser's local time) as a Date; undefined when empty or invalid. */
const localDate = (s: string | null): Date | undefined => {
  if (s === null || s === "") return undefined
  const d = new Date(s)
  return Number.isNaN(d.getTime()) ? undefined : d
}
const given = (s: string | null): string | undefined => (s === null || s === "" ? undefined : s)

export const DeadLetters = () => {
  const { api, tenant, info } = useSession()
  const { query } = useLocation()
  const [cursors, setCursors] = useState<ReadonlyArray<string>>([])
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set())
  const [replayId, setReplayId] = useState<string | undefined>(undefined)
  const [draft, setDraft] = useState<Record<Field, string>>(
    () => Object.fromEntries(fields.map((f) => [f, query.get(f) ?? ""])) as Record<Field, string>
  )

  // The tenant: a tenant key's own, an admin's selection, or a tenantId in the URL (a link from the overview).
  const tenantId = tenant ?? given(query.get("tenantId"))
  const from = localDate(query.get("from"))
  const to = localDate(query.get("to"))
  const filter = {
    ...(tenantId !== undefined ? { tenantId } : {}),
    ...(given(query.get("queue")) !== undefined ? { queue: given(query.get("queue"))! } : {}),
    ...(given(query.get("type")) !== undefined ? { type: given(query.get("type"))! } : {}),
    ...(given(query.get("errorClass")) !== undefined ? { errorClass: given(query.get("errorClass"))! } : {}),
    ...(given(query.get("fingerprint")) !== undefined ? { fingerprint: given(query.get("fingerprint"))! } : {}),
    ...(from !== undefined ? { dlqFrom: from } : {}),
    ...(to !== undefined ? { dlqTo: to } : {})
  }
  const reason = given(query.get("reason"))
  const cursor = cursors[cursors.length - 1]
  const key = JSON.stringify([filter, reason])
  const page = useData(
    () =>
      run(api.deadLetters.list({
        urlParams: {
          ...filter,
          ...(reason !== undefined ? { reason } : {}),
          limit: 25,
          ...(cursor !== undefined ? { cursor } : {})
        }
      })),
    [api, key, cursor]
  )
  const items = page.value?.items ?? []

  const apply = (e: FormEvent) => {
    e.preventDefault()
    const q = new URLSearchParams()
    if (info.tenant === null && tenant === undefined && query.get("tenantId")) q.set("tenantId", query.get("tenantId")!)
    for (const f of fields) if (draft[f] !== "") q.set(f, draft[f])
    setCursors([])
    setSelected(new Set())
    navigate(`/dead-letters${q.size > 0 ? `?${q}` : ""}`)
  }
  const toggle = (id: number) =>
    setSelected((s) => {
      const next = new Set(s)
      if (next.has(id)) next.delete(id)
      else next.add(id)
      return next
    })
  const allOnPage = items.length > 0 && items.every((d) => selected.has(d.id))
  const scopeTenant = tenantId !== undefined ? { tenantId } : {}

  return (
    <section>
      <h1>Dead letters</h1>
      <form className="filters" onSubmit={apply}>
        {fields.map((f) => (
          <label key={f}>
            {labels[f]}
            <input
              name={f}
              type={f === "from" || f === "to" ? "datetime-local" : "text"}
              value={draft[f]}
              onChange={(e) => setDraft((d) => ({ ...d, [f]: e.target.value }))}
            />
          </label>
        ))}
        <button type="submit">Filter</button>
      </form>
      {tenantId !== undefined && <p className="hint">Tenant {tenantId}</p>}
      <ErrorText error={page.error} />
      <div className="bulk">
        <Confirm
          label={`Replay selected (${selected.size})`}
          testId="replay-selected"
          disabled={selected.size === 0}
          question={`Replay ${selected.size} selected dead letter${selected.size === 1 ? "" : "s"}?`}
          onConfirm={async () => {
            const created = await run(api.replays.create({ payload: { filter: { ...scopeTenant, ids: [...selected] } } }))
            setSelected(new Set())
            setReplayId(created.id)
          }}
        />
        <Confirm
          label="Replay all matching"
          testId="replay-all"
          disabled={reason !== undefined || items.length === 0}
          question={async () => {
            const dry = await run(api.replays.create({ payload: { filter, dryRun: true } }))
            return `Dry run: ${dry.matched} dead letter${dry.matched === 1 ? "" : "s"} match this filter. Replay them all?`
          }}
          onConfirm={async () => {
            const created = await run(api.replays.create({ payload: { filter } }))
            setReplayId(created.id)
          }}
        />
        {reason !== undefined && <span className="hint">"All matching" takes the structured filters; clear the reason text or select rows.</span>}
        {replayId !== undefined && <ReplayProgress id={replayId} />}
      </div>
      <table data-testid="dead-letters">
        <thead>
          <tr>
            <th>
              <input
                type="checkbox"
                aria-label="select page"
                checked={allOnPage}
                onChange={() =>
                  setSelected((s) => {
                    const next = new Set(s)
                    for (const d of items) allOnPage ? next.delete(d.id) : next.add(d.id)
                    return next
                  })}
              />
            </th>
            <th className="num">Id</th><th>Tenant</th><th>Queue</th><th>Type</th><th>Class</th><th>Reason</th>
            <th className="num">Attempts</th><th>Dead-lettered</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.id} data-dlq-id={d.id}>
              <td><input type="checkbox" aria-label={`select ${d.id}`} checked={selected.has(d.id)} onChange={() => toggle(d.id)} /></td>
              <td className="num"><Link to={`/dead-letters/${d.id}`}>{d.id}</Link></td>
              <td>{d.tenantId}</td>
              <td>{d.queue}</td>
              <td>{d.type}</td>
              <td><span className="tag">{d.errorClass}</span></td>
              <td className="reason">{d.errorReason}</td>
              <td className="num">{d.attempts}/{d.maxAttempts}</td>
              <td title={dateTime(d.dlqAt)}>{ago(d.dlqAt)}</td>
            </tr>
          ))}
          {page.value !== undefined && items.length === 0 && <tr><td colSpan={9} className="empty">No dead letters match.</td></tr>}
        </tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>← Newer</button>
        <span className="hint">page {cursors.length + 1}</span>
        <button
          type="button"
          data-testid="next-page"
          disabled={page.value?.nextCursor == null}
          onClick={() => page.value?.nextCursor != null && setCursors((c) => [...c, page.value!.nextCursor!])}
        >
          Older →
        </button>
      </div>
    </section>
  )
}
