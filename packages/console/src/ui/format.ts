/** How the console writes times, durations and payloads. */
export const dateTime = (d: Date | null | undefined): string =>
  d === null || d === undefined ? "—" : d.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z")

export const ago = (d: Date | null | undefined, now: number = Date.now()): string => {
  if (d === null || d === undefined) return "—"
  const s = Math.round((now - d.getTime()) / 1000)
  const abs = Math.abs(s)
  const text = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.round(abs / 60)}m` : abs < 86400 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86400)}d`
  return s >= 0 ? `${text} ago` : `in ${text}`
}

export const seconds = (s: number | null): string =>
  s === null ? "—" : s < 60 ? `${Math.round(s)}s` : s < 3600 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`

export const json = (value: unknown): string => JSON.stringify(value, null, 2)
