/**
 * One dead letter: its payload, its whole attempt history, its lineage (the dead letter it was a
 * replay of, the job it was replayed into), replay as it was or with an edited payload (checked as
 * JSON here, then against the job type's Schema by the server before anything is written; a refusal
 * is shown on the field).
 */
import { useEffect, useState } from "react"
import { ApiFailure, run } from "../api.js"
import { Link, navigate } from "../router.js"
import { useSession } from "../session.js"
import { Confirm } from "../ui/Confirm.js"
import { ErrorText } from "../ui/ErrorText.js"
import { dateTime, json } from "../ui/format.js"
import { History } from "../ui/History.js"
import { useData } from "../ui/useData.js"

const parse = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string } => {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) }
  }
}

export const DeadLetter = (props: { readonly id: number }) => {
  const { api } = useSession()
  const dlq = useData(() => run(api.deadLetters.get({ path: { id: props.id } })), [api, props.id])
  const [edited, setEdited] = useState<string | undefined>(undefined)
  const [fieldError, setFieldError] = useState<string | undefined>(undefined)
  const d = dlq.value
  useEffect(() => setEdited(undefined), [props.id])

  if (d === undefined) return <section><h1>Dead letter {props.id}</h1><ErrorText error={dlq.error} /></section>
  const text = edited ?? json(d.payload)
  const parsed = parse(text)
  const replay = (payload?: unknown) =>
    run(api.deadLetters.replay({
      path: { id: d.id },
      payload: { requestId: `console-${crypto.randomUUID()}`, ...(payload !== undefined ? { payload } : {}) }
    })).then((r) => navigate(`/jobs/${r.jobId}`))

  return (
    <section>
      <h1>Dead letter {d.id}</h1>
      <dl className="facts">
        <dt>Tenant</dt><dd>{d.tenantId}</dd>
        <dt>Queue</dt><dd>{d.queue}</dd>
        <dt>Type</dt><dd>{d.type}</dd>
        <dt>Class</dt><dd><span className="tag">{d.errorClass}</span></dd>
        <dt>Reason</dt><dd data-testid="reason">{d.errorReason}</dd>
        <dt>Fingerprint</dt><dd><code>{d.fingerprint}</code></dd>
        <dt>Attempts</dt><dd>{d.attempts} of {d.maxAttempts}</dd>
        <dt>First failed</dt><dd>{dateTime(d.firstFailedAt)}</dd>
        <dt>Dead-lettered</dt><dd>{dateTime(d.dlqAt)}</dd>
        <dt>Job</dt><dd>{d.jobId}</dd>
      </dl>
      <h2>Lineage</h2>
      <ul data-testid="lineage">
        <li>
          Replayed from:{" "}
          {d.replayOf !== null ? <Link to={`/dead-letters/${d.replayOf}`}>dead letter {d.replayOf}</Link> : "— (an original failure)"}
        </li>
        <li>
          Replayed into:{" "}
          {d.replayJobId !== null
            ? <><Link to={`/jobs/${d.replayJobId}`}>job {d.replayJobId}</Link> by {d.replayedBy} at {dateTime(d.replayedAt)}</>
            : "— (not replayed)"}
        </li>
      </ul>
      <div className="actions">
        <Confirm
          label="Replay"
          testId="replay"
          disabled={d.replayJobId !== null}
          question={`Replay dead letter ${d.id} as a new ${d.type} job with its payload unchanged?`}
          onConfirm={() => replay()}
        />
      </div>
      <h2>Payload</h2>
      <label className="payload">
        <textarea
          data-testid="payload"
          aria-invalid={!parsed.ok || fieldError !== undefined}
          spellCheck={false}
          rows={Math.min(24, text.split("\n").length + 1)}
          value={text}
          onChange={(e) => {
            setEdited(e.target.value)
            setFieldError(undefined)
          }}
        />
        {!parsed.ok && <span className="error field-error">Not JSON: {parsed.error}</span>}
        {fieldError !== undefined && <span className="error field-error" data-testid="payload-error">{fieldError}</span>}
      </label>
      <div className="actions">
        <Confirm
          label="Replay with this payload"
          testId="replay-edited"
          disabled={!parsed.ok || edited === undefined || d.replayJobId !== null}
          question={`Replay dead letter ${d.id} with the edited payload?`}
          onConfirm={() =>
            parsed.ok
              ? replay(parsed.value).catch((e: unknown) => {
                if (e instanceof ApiFailure && e.field !== undefined) {
                  setFieldError(`${e.field}: ${String(e.detail["message"] ?? e.message)}`)
                  return
                }
                throw e
              })
              : Promise.resolve()}
        />
      </div>
      <h2>History</h2>
      <History entries={d.errorHistory} />
    </section>
  )
}
