/** Client routes on the History API (the server answers index.html for them): a path, a query, links. */
import { type MouseEvent, type ReactNode, useEffect, useState } from "react"

const listeners = new Set<() => void>()

export const navigate = (to: string): void => {
  window.history.pushState(null, "", to)
  listeners.forEach((l) => l())
}

export interface Location {
  readonly path: string
  readonly query: URLSearchParams
}

const read = (): Location => ({ path: window.location.pathname, query: new URLSearchParams(window.location.search) })

export const useLocation = (): Location => {
  const [location, setLocation] = useState(read)
  useEffect(() => {
    const update = () => setLocation(read())
    listeners.add(update)
    window.addEventListener("popstate", update)
    return () => {
      listeners.delete(update)
      window.removeEventListener("popstate", update)
    }
  }, [])
  return location
}

export const Link = (props: { readonly to: string; readonly children: ReactNode; readonly className?: string }) => {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return
    e.preventDefault()
    navigate(props.to)
  }
  return <a href={props.to} onClick={onClick} className={props.className}>{props.children}</a>
}
