/**
 * Queue health per tenant and queue (the queue_health view), throughput and failures per minute
 * (throughput_stat and failure_stat counters, charted with uPlot), open circuits and paused scopes
 * (control rows).
 */
import { useMemo } from "react"
import { run } from "../api.js"
import { Link } from "../router.js"
import { useSession } from "../session.js"
import { Chart } from "../ui/Chart.js"
import { ErrorText } from "../ui/ErrorText.js"
import { ago, seconds } from "../ui/format.js"
import { useData } from "../ui/useData.js"

export const Overview = () => {
  const { api, tenant } = useSession()
  const stats = useData(() => run(api.stats.queues()), [api], 5000)
  const timeline = useData(
    () => run(api.stats.timeline({ urlParams: { minutes: 60, ...(tenant !== undefined ? { tenantId: tenant } : {}) } })),
    [api, tenant],
    15000
  )
  const controls = useData(() => run(api.controls.list()), [api], 5000)
  const timelineLoading = timeline.value === undefined && timeline.error === undefined

  const queues = (stats.value?.queues ?? []).filter((q) => tenant === undefined || q.tenantId === tenant)
  const inScope = (c: { readonly tenantId: string }) => tenant === undefined || c.tenantId === tenant || c.tenantId === "*"
  const circuits = (controls.value ?? []).filter((c) => c.initiatedBy === "circuit-breaker" && inScope(c))
  const paused = (controls.value ?? []).filter((c) => c.initiatedBy !== "circuit-breaker" && inScope(c))

  const chart = useMemo(() => {
    const buckets = timeline.value?.buckets ?? []
    return {
      x: buckets.map((b) => b.at.getTime() / 1000),
      throughput: [
        { label: "completed", color: "#2563eb", values: buckets.map((b) => b.completed) },
        { label: "failed attempts", color: "#d97706", values: buckets.map((b) => b.failures) }
      ],
      failures: [
        { label: "failures", color: "#d97706", values: buckets.map((b) => b.failures) },
        { label: "dead-lettered", color: "#dc2626", values: buckets.map((b) => b.deadLettered) }
      ],
      recovered: [{ label: "recovered (succeeded after failing)", color: "#16a34a", values: buckets.map((b) => b.recovered) }]
    }
  }, [timeline.value])

  return (
    <section>
      <h1>Overview</h1>
      <ErrorText error={stats.error ?? timeline.error ?? controls.error} />
      <h2>Queue health</h2>
      <table data-testid="queue-health">
        <thead>
          <tr>
            <th>Tenant</th><th>Queue</th><th className="num">Waiting</th><th className="num">Scheduled</th>
            <th className="num">Running</th><th className="num">Retrying</th><th className="num">Paused</th>
            <th className="num">Oldest waiting</th><th className="num">Dead letters 24 h</th>
          </tr>
        </thead>
        <tbody>
          {queues.map((q) => (
            <tr key={`${q.tenantId}/${q.queue}`}>
              <td>{q.tenantId}</td>
              <td>{q.queue}</td>
              <td className="num">{q.available}</td>
              <td className="num">{q.scheduled}</td>
              <td className="num">{q.running}</td>
              <td className="num">{q.retrying}</td>
              <td className="num">{q.paused}</td>
              <td className="num">{seconds(q.oldestAvailableAgeS)}</td>
              <td className="num">
                <Link to={`/dead-letters?tenantId=${encodeURIComponent(q.tenantId)}&queue=${encodeURIComponent(q.queue)}`}>
                  {q.deadLettered24h}
                </Link>
              </td>
            </tr>
          ))}
          {queues.length === 0 && !stats.loading && <tr><td colSpan={9} className="empty">No queues with work or recent dead letters.</td></tr>}
        </tbody>
      </table>
      <h2>Throughput and failures over the last hour</h2>
      <p className="hint">
        Per minute: completed jobs from the counts each worker flushes every few seconds, failures from the
        counters the workers write as they settle.
      </p>
      <div className="charts">
        <Chart
          title="Completed jobs and failed attempts per minute"
          x={chart.x}
          series={chart.throughput}
          testId="throughput-chart"
          loading={timelineLoading}
        />
        <Chart title="Failures and dead letters per minute" x={chart.x} series={chart.failures} loading={timelineLoading} />
        <Chart title="Recoveries per minute" x={chart.x} series={chart.recovered} loading={timelineLoading} />
      </div>
      <div className="columns">
        <div>
          <h2>Open circuits</h2>
          <ul data-testid="circuits">
            {circuits.map((c) => (
              <li key={`${c.tenantId}/${c.queue}/${c.type}`}>
                type <b>{c.type}</b> {c.state === "probing" ? "half-open (probing)" : "open"} since {ago(c.initiatedAt)}
                {c.reason !== null && <> — {c.reason}</>}
              </li>
            ))}
            {circuits.length === 0 && <li className="empty">None.</li>}
          </ul>
        </div>
        <div>
          <h2>Paused and draining scopes</h2>
          <ul data-testid="paused-scopes">
            {paused.map((c) => (
              <li key={`${c.tenantId}/${c.queue}/${c.type}`}>
                {c.state} <b>{c.tenantId}</b> / <b>{c.queue}</b>{c.type !== "*" && <> / {c.type}</>} by {c.initiatedBy}{" "}
                {ago(c.initiatedAt)}{c.reason !== null && <> — {c.reason}</>}
              </li>
            ))}
            {paused.length === 0 && <li className="empty">None.</li>}
          </ul>
          <Link to="/controls">Controls →</Link>
        </div>
      </div>
    </section>
  )
}
