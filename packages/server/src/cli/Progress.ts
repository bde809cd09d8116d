/**
 * A bulk replay's progress bar on stderr (stdout stays the result): redrawn in place on a
 * terminal, a line at most every few seconds otherwise (a log, a CI job).
 */
import type { ReplayRequest } from "@redrive/database"
import { Effect } from "effect"

const width = 30

/** `[██████░░░░]  60%  300/500 replayed  running` */
export const bar = (request: ReplayRequest.ReplayRequest): string => {
  const total = request.matched
  const ratio = total === 0 ? (request.state === "done" ? 1 : 0) : Math.min(1, request.replayed / total)
  const filled = Math.round(ratio * width)
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%  ` +
    `${request.replayed}/${total} replayed  ${request.state}`
}

export const isFinished = (request: ReplayRequest.ReplayRequest) =>
  request.state === "done" || request.state === "cancelled" || request.state === "failed"

export interface Renderer {
  readonly update: (request: ReplayRequest.ReplayRequest) => Effect.Effect<void>
  readonly end: Effect.Effect<void>
}

export const renderer = (stream: NodeJS.WriteStream = process.stderr): Renderer => {
  const tty = stream.isTTY === true
  let last = ""
  let lastAt = 0
  return {
    update: (request) =>
      Effect.sync(() => {
        const line = bar(request)
        if (line === last) return
        if (tty) stream.write(`\r${line}`)
        else if (Date.now() - lastAt >= 2000 || isFinished(request)) {
          stream.write(`${line}\n`)
          lastAt = Date.now()
        }
        last = line
      }),
    end: Effect.sync(() => {
      if (tty && last !== "") stream.write("\n")
    })
  }
}
