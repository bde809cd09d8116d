/** A bulk replay request followed until it ends: matched, replayed, state (polled every second). */
import { run } from "../api.js"
import { useSession } from "../session.js"
import { ErrorText } from "./ErrorText.js"
import { useData } from "./useData.js"

const finished = new Set(["done", "cancelled", "failed"])

export const ReplayProgress = (props: { readonly id: string }) => {
  const { api } = useSession()
  const status = useData(() => run(api.replays.get({ path: { id: props.id } })), [api, props.id], 1000)
  const r = status.value
  if (r === undefined) return <ErrorText error={status.error} />
  const share = r.matched === 0 ? 1 : r.replayed / r.matched
  return (
    <div className="progress" data-testid="replay-progress" data-state={r.state}>
      <progress max={1} value={share} />{" "}
      bulk replay <code>{r.id.slice(0, 8)}</code>: <b>{r.state}</b> — {r.replayed} of {r.matched} replayed
      {r.error !== null && <span className="error"> {r.error}</span>}
      {!finished.has(r.state) && <span className="hint"> (updating)</span>}
    </div>
  )
}
