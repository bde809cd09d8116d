/**
 * Dead letters grouped by (type, class, fingerprint) from the group counters (never a count over
 * the DLQ): how many wait, across how many tenants, first and last seen, a sample. "Replay group"
 * shows the dry run's count before it asks, then the bulk replay's progress; "Mute" silences the
 * group's alerts for a while.
 */
import { useState } from "react"
import { run } from "../api.js"
import { Link } from "../router.js"
import { useSession } from "../session.js"
import { Confirm } from "../ui/Confirm.js"
import { ErrorText } from "../ui/ErrorText.js"
import { ago, dateTime } from "../ui/format.js"
import { ReplayProgress } from "../ui/ReplayProgress.js"
import { useData } from "../ui/useData.js"

interface Group {
  readonly type: string
  readonly errorClass: string
  readonly fingerprint: string
}
const keyOf = (g: Group) => `${g.type}\u0000${g.errorClass}\u0000${g.fingerprint}`

export const ErrorGroups = () => {
  const { api, tenant } = useSession()
  const [orderBy, setOrderBy] = useState<"lastSeen" | "count">("lastSeen")
  const [cursors, setCursors] = useState<ReadonlyArray<string>>([])
  const [replays, setReplays] = useState<Readonly<Record<string, string>>>({})
  const [muted, setMuted] = useState<Readonly<Record<string, Date>>>({})
  const cursor = cursors[cursors.length - 1]
  const page = useData(
    () =>
      run(api.errorGroups.list({
        urlParams: {
          orderBy,
          limit: 25,
          ...(tenant !== undefined ? { tenantId: tenant } : {}),
          ...(cursor !== undefined ? { cursor } : {})
        }
      })),
    [api, tenant, orderBy, cursor]
  )
  const scope = tenant !== undefined ? { tenantId: tenant } : {}
  const filterOf = (g: Group) => ({ type: g.type, errorClass: g.errorClass, fingerprint: g.fingerprint, ...scope })

  return (
    <section>
      <h1>Error groups</h1>
      <label>
        Order by{" "}
        <select value={orderBy} onChange={(e) => { setOrderBy(e.target.value === "count" ? "count" : "lastSeen"); setCursors([]) }}>
          <option value="lastSeen">last seen</option>
          <option value="count">count</option>
        </select>
      </label>
      <ErrorText error={page.error} />
      <table data-testid="error-groups">
        <thead>
          <tr>
            <th>Type</th><th>Class</th><th>Fingerprint</th><th className="num">Waiting</th><th className="num">Ever</th>
            <th className="num">Tenants</th><th>First seen</th><th>Last seen</th><th>Sample</th><th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {(page.value?.groups ?? []).map((g) => {
            const key = keyOf(g)
            const replayId = replays[key]
            const mutedUntil = muted[key]
            return (
              <tr key={key} data-group={g.fingerprint}>
                <td>{g.type}</td>
                <td><span className="tag">{g.errorClass}</span></td>
                <td><code>{g.fingerprint.slice(0, 12)}</code></td>
                <td className="num">
                  <Link to={`/dead-letters?type=${encodeURIComponent(g.type)}&errorClass=${g.errorClass}&fingerprint=${encodeURIComponent(g.fingerprint)}`}>
                    {g.count}
                  </Link>
                </td>
                <td className="num">{g.total}</td>
                <td className="num">{g.tenants}</td>
                <td title={dateTime(g.firstSeen)}>{ago(g.firstSeen)}</td>
                <td title={dateTime(g.lastSeen)}>{ago(g.lastSeen)}</td>
                <td className="sample">
                  {g.sampleDlqId !== null
                    ? <Link to={`/dead-letters/${g.sampleDlqId}`}>{g.sampleMessage ?? "(no message)"}</Link>
                    : g.sampleMessage}
                </td>
                <td className="actions">
                  <Confirm
                    label="Replay group"
                    testId="replay-group"
                    disabled={g.count === 0}
                    question={async () => {
                      const dry = await run(api.replays.create({ payload: { filter: filterOf(g), dryRun: true } }))
                      return `Dry run: ${dry.matched} dead letter${dry.matched === 1 ? "" : "s"} would be replayed. Replay them?`
                    }}
                    onConfirm={async () => {
                      const created = await run(api.replays.create({ payload: { filter: filterOf(g) } }))
                      setReplays((r) => ({ ...r, [key]: created.id }))
                    }}
                  />
                  <Confirm
                    label="Mute 1 h"
                    question="Mute this group's alerts for an hour?"
                    onConfirm={async () => {
                      const mute = await run(api.errorGroups.mute({
                        payload: { ...filterOf(g), minutes: 60, reason: "muted from the console" }
                      }))
                      setMuted((m) => ({ ...m, [key]: mute.mutedUntil }))
                    }}
                  />
                  {mutedUntil !== undefined && <span className="hint">muted until {dateTime(mutedUntil)}</span>}
                  {replayId !== undefined && <ReplayProgress id={replayId} />}
                </td>
              </tr>
            )
          })}
          {page.value?.groups.length === 0 && <tr><td colSpan={10} className="empty">No error groups.</td></tr>}
        </tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>← Previous</button>
        <button
          type="button"
          disabled={page.value?.nextCursor == null}
          onClick={() => page.value?.nextCursor != null && setCursors((c) => [...c, page.value!.nextCursor!])}
        >
          Next →
        </button>
      </div>
    </section>
  )
}
