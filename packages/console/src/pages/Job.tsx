/**
 * One live job: state, payload, attempt history, where it came from (a replayed dead letter), and
 * cancel / retry now. Polled, so a replay can be watched until it runs. A completed job is gone
 * unless the workers keep completed jobs.
 */
import { run } from "../api.js"
import { Link } from "../router.js"
import { useSession } from "../session.js"
import { Confirm } from "../ui/Confirm.js"
import { ErrorText } from "../ui/ErrorText.js"
import { ago, dateTime, json } from "../ui/format.js"
import { History } from "../ui/History.js"
import { useData } from "../ui/useData.js"

const waiting = new Set(["available", "paused"])

export const Job = (props: { readonly id: number }) => {
  const { api } = useSession()
  const job = useData(() => run(api.jobs.get({ path: { id: props.id } })), [api, props.id], 1500)
  const j = job.value
  if (j === undefined) {
    return (
      <section>
        <h1>Job {props.id}</h1>
        {job.error?.tag === "JobNotFound"
          ? (
            <p data-testid="job-gone">
              Job {props.id} is not in the queue: it finished and was removed (completed jobs are kept only when workers
              run with <code>keepCompleted</code>), or it is not this key's.
            </p>
          )
          : <ErrorText error={job.error} />}
      </section>
    )
  }
  const requestId = () => `console-${crypto.randomUUID()}`
  return (
    <section>
      <h1>Job {j.id}</h1>
      <dl className="facts">
        <dt>State</dt><dd data-testid="job-state"><span className={`state ${j.state}`}>{j.state}</span></dd>
        <dt>Tenant</dt><dd>{j.tenantId}</dd>
        <dt>Queue</dt><dd>{j.queue}</dd>
        <dt>Type</dt><dd>{j.type}</dd>
        <dt>Attempt</dt><dd>{j.attempt} of {j.maxAttempts}</dd>
        <dt>Runs at</dt><dd>{dateTime(j.runAt)} ({ago(j.runAt)})</dd>
        <dt>Locked by</dt><dd>{j.lockedBy ?? "—"}{j.lockedUntil !== null && <> until {dateTime(j.lockedUntil)}</>}</dd>
        <dt>Completed</dt><dd>{dateTime(j.completedAt)}</dd>
        <dt>Replay of</dt>
        <dd>{j.replayOf !== null ? <Link to={`/dead-letters/${j.replayOf}`}>dead letter {j.replayOf}</Link> : "—"}</dd>
      </dl>
      <div className="actions">
        <Confirm
          label="Retry now"
          testId="retry-now"
          disabled={!waiting.has(j.state)}
          question={`Run job ${j.id} now instead of at ${dateTime(j.runAt)}?`}
          onConfirm={() => run(api.jobs.retry({ path: { id: j.id }, payload: { requestId: requestId() } })).then(job.reload)}
        />
        <Confirm
          label="Cancel"
          testId="cancel"
          disabled={!waiting.has(j.state)}
          question={`Cancel job ${j.id}? It will not run.`}
          onConfirm={() =>
            run(api.jobs.cancel({ path: { id: j.id }, payload: { requestId: requestId(), reason: "cancelled from the console" } }))
              .then(job.reload)}
        />
      </div>
      <h2>Payload</h2>
      <pre className="json">{json(j.payload)}</pre>
      <h2>History</h2>
      <History entries={j.errorHistory} />
    </section>
  )
}
