/** Plain-text formatting for the demo: aligned tables, durations, counts. */

export interface Column {
  readonly header: string
  readonly align?: "left" | "right"
  /** Longer cells are cut with an ellipsis. */
  readonly max?: number
}

const cut = (s: string, max: number | undefined) => (max !== undefined && s.length > max ? `${s.slice(0, max - 1)}…` : s)

/** An aligned table, one string per line, each line indented by `indent`. */
export const table = (
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
  indent = "  "
): Array<string> => {
  const cells = rows.map((row) => columns.map((c, i) => cut(String(row[i] ?? ""), c.max)))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)))
  const line = (values: ReadonlyArray<string>) =>
    indent + values.map((v, i) => (columns[i]!.align === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ").trimEnd()
  return [line(columns.map((c) => c.header)), ...cells.map(line)]
}

export const ms = (millis: number) => (millis < 1000 ? `${Math.round(millis)} ms` : `${(millis / 1000).toFixed(1)} s`)

export const seconds = (millis: number) => `${(millis / 1000).toFixed(1)} s`

export const percent = (rate: number | null) => (rate === null ? "—" : `${Math.round(rate * 100)}%`)

/** Cents as money: -1250 → "-12.50". */
export const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`

/** The first lines of a stack, with the working directory cut from its paths. */
export const stackHead = (stack: string, lines: number, cwd: string): Array<string> =>
  stack.split("\n").slice(0, lines).map((l) => l.replaceAll(`file://${cwd}/`, "").replaceAll(`${cwd}/`, "").trimEnd())
