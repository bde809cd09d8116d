/** Sign in with an API key (`rdk_…`); it stays in this tab's sessionStorage only. */
import { type FormEvent, useState } from "react"
import type { ApiFailure } from "../api.js"

export const SignIn = (props: { readonly failure: ApiFailure | undefined; readonly onKey: (key: string) => void }) => {
  const [key, setKey] = useState("")
  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (key.trim() !== "") props.onKey(key.trim())
  }
  return (
    <form className="signin" onSubmit={submit}>
      <h1>Redrive console</h1>
      <p>Sign in with an API key. It is kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</p>
      <input
        name="key"
        type="password"
        autoComplete="off"
        placeholder="rdk_…"
        value={key}
        onChange={(e) => setKey(e.target.value)}
        aria-label="API key"
      />
      <button type="submit">Sign in</button>
      {props.failure !== undefined && <p className="error" role="alert">{props.failure.message}</p>}
    </form>
  )
}
