/** A job's attempt history as a timeline: class, message, stack, duration, worker, next run, who. */
import { dateTime } from "./format.js"

type Entry =
  | {
    readonly kind: "failed" | "timeout" | "rescued" | "snoozed" | "waited" | "replayed" | "discarded"
    readonly attempt: number
    readonly at: Date
    readonly errorClass: string
    readonly tag: string
    readonly message: string
    readonly stack?: string | undefined
    readonly durationMs?: number | undefined
    readonly workerId?: string | undefined
    readonly nextRunAt?: Date | undefined
    readonly by?: string | undefined
  }
  | { readonly kind: "dropped"; readonly count: number; readonly at: Date }

export const History = (props: { readonly entries: ReadonlyArray<Entry> }) => (
  <ol className="timeline" data-testid="history">
    {props.entries.map((e, i) =>
      e.kind === "dropped"
        ? <li key={i} className="dropped">… {e.count} older entries dropped (the history keeps the first and the newest)</li>
        : (
          <li key={i} className={`entry ${e.kind}`}>
            <div className="entry-head">
              <b>{e.kind === "replayed" ? "replayed" : `attempt ${e.attempt}`}</b> <span className="tag">{e.kind}</span>{" "}
              {e.kind !== "replayed" && <span className="tag">{e.errorClass}</span>} <time>{dateTime(e.at)}</time>
              {e.durationMs !== undefined && <span> · {e.durationMs} ms</span>}
              {e.workerId !== undefined && <span> · worker {e.workerId}</span>}
              {e.by !== undefined && <span> · by {e.by}</span>}
              {e.nextRunAt !== undefined && <span> · next run {dateTime(e.nextRunAt)}</span>}
            </div>
            <div className="entry-message"><code>{e.tag}</code> {e.message}</div>
            {e.stack !== undefined && (
              <details>
                <summary>stack</summary>
                <pre>{e.stack}</pre>
              </details>
            )}
          </li>
        )
    )}
    {props.entries.length === 0 && <li className="empty">No entries.</li>}
  </ol>
)
