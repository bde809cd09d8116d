/**
 * An action button that asks first: the question (and what the action will do) appears beside
 * it with Confirm / Cancel. Disabled for read-only keys, with the reason as its title.
 */
import { type ReactNode, useState } from "react"
import { ApiFailure } from "../api.js"
import { useSession } from "../session.js"

export interface ConfirmProps {
  readonly label: string
  /** What will happen; may be loaded when the button is pressed (a dry run's count). */
  readonly question: ReactNode | (() => Promise<ReactNode>)
  readonly onConfirm: () => Promise<unknown>
  readonly disabled?: boolean
  readonly testId?: string
}

export const Confirm = (props: ConfirmProps) => {
  const { canWrite } = useSession()
  const [asking, setAsking] = useState<ReactNode | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)

  const ask = async () => {
    setError(undefined)
    try {
      setAsking(typeof props.question === "function" ? await props.question() : props.question)
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e))
    }
  }
  const confirm = async () => {
    setBusy(true)
    try {
      await props.onConfirm()
      setAsking(undefined)
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <span className="confirm">
      <button
        type="button"
        data-testid={props.testId}
        disabled={!canWrite || props.disabled === true || asking !== undefined}
        title={canWrite ? undefined : "read-only key"}
        onClick={() => void ask()}
      >
        {props.label}
      </button>
      {asking !== undefined && (
        <span className="confirm-box" role="alertdialog">
          <span>{asking}</span>
          <button type="button" className="danger" disabled={busy} onClick={() => void confirm()}>Confirm</button>
          <button type="button" disabled={busy} onClick={() => setAsking(undefined)}>Cancel</button>
        </span>
      )}
      {error !== undefined && <span className="error">{error}</span>}
    </span>
  )
}
