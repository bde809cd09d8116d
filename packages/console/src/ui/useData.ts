/** Loads what a page shows (again when its inputs change, and every `pollMs` while mounted). */
import { useCallback, useEffect, useRef, useState } from "react"
import { ApiFailure } from "../api.js"

export interface Data<A> {
  readonly value: A | undefined
  readonly error: ApiFailure | undefined
  readonly loading: boolean
  readonly reload: () => void
}

export const useData = <A>(load: () => Promise<A>, deps: ReadonlyArray<unknown>, pollMs?: number): Data<A> => {
  const [state, setState] = useState<{ value: A | undefined; error: ApiFailure | undefined; loading: boolean }>({
    value: undefined,
    error: undefined,
    loading: true
  })
  const [tick, setTick] = useState(0)
  const latest = useRef(0)
  const reload = useCallback(() => setTick((t) => t + 1), [])

  useEffect(() => {
    const call = ++latest.current
    setState((s) => ({ ...s, loading: true }))
    load().then(
      (value) => call === latest.current && setState({ value, error: undefined, loading: false }),
      (error: unknown) =>
        call === latest.current &&
        setState((s) => ({
          value: s.value,
          error: error instanceof ApiFailure ? error : new ApiFailure("Unknown", String(error), undefined, {}),
          loading: false
        }))
    )
    // eslint-style exhaustive deps are the caller's: `deps` names what the load reads.
  }, [...deps, tick])

  useEffect(() => {
    if (pollMs === undefined) return
    const timer = window.setInterval(reload, pollMs)
    return () => window.clearInterval(timer)
  }, [pollMs, reload])

  return { ...state, reload }
}
