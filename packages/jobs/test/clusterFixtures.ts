/** Cluster runners (fixtures/clusterRunner.ts) as child processes, driven line by line over stdin. */
import { Scratch } from "@redrive/database/testing"
import { Effect, Redacted, Schedule } from "effect"
import { fileURLToPath } from "node:url"
import { spawnChild } from "./processFixtures.js"

const runnerScript = fileURLToPath(new URL("./fixtures/clusterRunner.ts", import.meta.url))

export interface Runner {
  readonly pid: number
  readonly port: number
  readonly output: () => string
  /** Sends one command and waits (at most `timeoutMs`) for its `REPLY` line, parsed. */
  readonly ask: (command: Record<string, unknown>, timeoutMs?: number) => Effect.Effect<Record<string, unknown>, Error>
  readonly kill: (signal: NodeJS.Signals) => void
  readonly exited: Effect.Effect<number | string>
}

/** Starts a runner on a free port against `url`; SIGKILLed when the scope closes. Waits until it is ready. */
export const spawnRunner = (url: Redacted.Redacted, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const port = yield* Scratch.freePort
    const { child, output, exited } = yield* spawnChild(runnerScript, {
      RUNNER_DATABASE_URL: Redacted.value(url),
      REDRIVE_RUNNER_HOST: "127.0.0.1",
      REDRIVE_RUNNER_PORT: String(port),
      // The same on every runner; fewer shard locks to take at start than the default 300.
      SHARDS_PER_GROUP: "30",
      ...env
    }, "pipe")
    const alive = () => child.exitCode === null && child.signalCode === null
    const poll = <A>(find: () => A | undefined, what: string, timeoutMs: number) =>
      Effect.suspend(() => {
        const found = find()
        return found === undefined ? Effect.fail("not yet" as const) : Effect.succeed(found)
      }).pipe(
        Effect.retry({ schedule: Schedule.spaced("20 millis"), until: () => !alive() }),
        Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => "timeout" as const }),
        Effect.mapError(() => new Error(`runner ${child.pid} (port ${port}): no ${what} within ${timeoutMs} ms:\n${output()}`))
      )
    const replies = () =>
      output().split("\n").filter((l) => l.startsWith("REPLY ")).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
    // The same command may be asked again (polling for ownership): wait for a reply newer than
    // those already printed for that line.
    const ask = (command: Record<string, unknown>, timeoutMs = 30_000) =>
      Effect.suspend(() => {
        const line = JSON.stringify(command)
        const answers = () => replies().filter((r) => r.line === line)
        const before = answers().length
        child.stdin?.write(`${line}\n`)
        return poll(() => answers()[before], `reply to ${line}`, timeoutMs)
      })
    yield* poll(() => (/runner ready/.test(output()) ? true : undefined), "ready line", 90_000)
    return {
      pid: child.pid ?? -1,
      port,
      output,
      ask,
      kill: (signal) => void child.kill(signal),
      exited
    } satisfies Runner
  })

/** Dead letters whose shard `owner` holds and `other` does not, once both agree (shards settle after a join). */
export const ownedBy = (owner: Runner, other: Runner, ids: ReadonlyArray<number>, want: number) =>
  Effect.gen(function*() {
    const found: Array<number> = []
    for (const id of ids) {
      const mine = yield* owner.ask({ op: "owns", entity: `dlq:${id}` })
      const theirs = yield* other.ask({ op: "owns", entity: `dlq:${id}` })
      if (mine.owns === true && theirs.owns === false) found.push(id)
      if (found.length === want) return found
    }
    return yield* Effect.fail(new Error(`runner ${owner.pid} owns fewer than ${want} of ${ids.length} entities yet`))
  }).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 60 }))
