/**
 * A uPlot time-series chart: x in seconds since the epoch, one series per label, with each
 * series' total over the range written under it (readable without hovering, and by the tests).
 * Until its data first arrives it says so (`aria-busy`), rather than showing totals of zero.
 */
import { useEffect, useRef } from "react"
import uPlot from "uplot"
import "uplot/dist/uPlot.min.css"

export interface ChartProps {
  readonly title: string
  readonly x: ReadonlyArray<number>
  readonly series: ReadonlyArray<{ readonly label: string; readonly color: string; readonly values: ReadonlyArray<number> }>
  readonly width?: number
  readonly height?: number
  readonly testId?: string
  /** No data yet: the first request is in flight. */
  readonly loading?: boolean
}

export const Chart = (props: ChartProps) => {
  const element = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (element.current === null) return
    const plot = new uPlot(
      {
        title: props.title,
        width: props.width ?? 560,
        height: props.height ?? 220,
        scales: { x: { time: true } },
        series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5 }))]
      },
      [[...props.x], ...props.series.map((s) => [...s.values])],
      element.current
    )
    return () => plot.destroy()
  }, [props.title, props.x, props.series, props.width, props.height])
  return (
    <figure className="chart-box" data-testid={props.testId} aria-busy={props.loading === true}>
      <div className="chart" ref={element} />
      <figcaption className="hint">
        {props.loading === true
          ? "loading…"
          : props.series.map((s) => `${s.label}: ${s.values.reduce((a, b) => a + b, 0).toLocaleString("en")}`).join(" · ")}
      </figcaption>
    </figure>
  )
}
