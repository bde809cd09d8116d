/** Dead letters in paused scopes, and what a worker does with their replays, for the replay tests. */
import { SqlClient } from "@effect/sql"
import { assert } from "@effect/vitest"
import type { Ids } from "@redrive/database"
import { Factory } from "@redrive/database/testing"
import { Effect, Ref } from "effect"
import * as JobDefinition from "../src/JobDefinition.js"
import { Email } from "./replayFixtures.js"
import { eventually, withWorker } from "./workerFixtures.js"

export interface ScopedDeadLetter {
  readonly shape: string
  readonly tenantId: Ids.TenantId
  readonly queue: Ids.QueueName
  /** The control row over the dead letter's scope; none: the scope runs. */
  readonly control: { readonly tenantId: string; readonly queue: string } | undefined
  readonly dlqId: Ids.DlqId
}

/**
 * One dead letter of the Email type per shape of pause (the tenant's queue, the queue for every
 * tenant, every queue of the tenant) and one in a running scope; each under its own tenant and
 * queue, so that one pause cannot stand in for another.
 */
export const deadLettersInPausedScopes = Effect.gen(function*() {
  const shapes = [
    { shape: "tenant and queue", control: (t: string, q: string) => ({ tenantId: t, queue: q }) },
    { shape: "the queue for every tenant", control: (_: string, q: string) => ({ tenantId: "*", queue: q }) },
    { shape: "every queue of the tenant", control: (t: string) => ({ tenantId: t, queue: "*" }) },
    { shape: "not paused", control: () => undefined }
  ]
  return yield* Effect.forEach(shapes, ({ control, shape }) =>
    Effect.gen(function*() {
      const tenantId = Factory.tenant()
      const queue = Factory.queue()
      const dead = yield* Factory.insertDeadLetter({ tenantId, queue, type: Email.name, payload: { to: "p@example.com" } })
      const scope = control(tenantId, queue)
      if (scope !== undefined) yield* Factory.insertControl(scope)
      return { shape, tenantId, queue, control: scope, dlqId: dead.id } satisfies ScopedDeadLetter
    }))
})

/** The jobs replayed from these dead letters, in the same order (undefined where none). */
export const replayedJobs = (deadLetters: ReadonlyArray<ScopedDeadLetter>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ id: string; replayOf: string; state: string }>`
      select id, replay_of, state from redrive.job where replay_of = any(${deadLetters.map((d) => d.dlqId)}::bigint[])`
    return deadLetters.map((d) => {
      const row = rows.find((r) => Number(r.replayOf) === d.dlqId)
      return row === undefined ? undefined : { jobId: Number(row.id), state: row.state }
    })
  })

/**
 * Resumes a scope as an operator would: its control row goes and its waiting jobs become
 * available. Removing the row alone would not do: the claim takes `available` jobs only, and
 * nothing in the job runtime turns a scope's `paused` jobs back yet.
 */
const resume = (d: ScopedDeadLetter) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    if (d.control === undefined) return
    yield* sql`delete from redrive.control where tenant_id = ${d.control.tenantId} and queue = ${d.control.queue}`
    yield* sql`update redrive.job set state = 'available', updated_at = now()
               where state = 'paused' and tenant_id = ${d.tenantId} and queue = ${d.queue}`
  })

/**
 * The replays of `deadLetters` wait as `paused` wherever a pause covers them, a worker runs only
 * the others, and once the scopes are resumed it runs every one of them.
 */
export const assertPausedUntilResumed = (deadLetters: ReadonlyArray<ScopedDeadLetter>) =>
  Effect.gen(function*() {
    const jobs = yield* replayedJobs(deadLetters)
    assert.deepStrictEqual(
      deadLetters.map((d, i) => [d.shape, jobs[i]?.state]),
      deadLetters.map((d) => [d.shape, d.control === undefined ? "available" : "paused"])
    )
    const jobIds = jobs.map((j) => j?.jobId ?? -1)
    const running = jobIds.filter((_, i) => deadLetters[i]!.control === undefined)
    const ran = yield* Ref.make<ReadonlyArray<number>>([])
    const handler = JobDefinition.handle(Email, (_, ctx) => Ref.update(ran, (r) => [...r, ctx.jobId]))
    const remaining = Effect.map(replayedJobs(deadLetters), (js) => js.filter((j) => j !== undefined))
    yield* withWorker(
      { handlers: [handler], queues: deadLetters.map((d) => d.queue) },
      Effect.gen(function*() {
        yield* eventually(Ref.get(ran), (r) => r.length >= running.length)
        // Ten polls of the worker: a paused job it could claim would have run by now.
        yield* Effect.sleep("500 millis")
        assert.deepStrictEqual(yield* Ref.get(ran), running, "only the jobs of running scopes ran")
        assert.deepStrictEqual(
          (yield* remaining).map((j) => j?.state),
          deadLetters.filter((d) => d.control !== undefined).map(() => "paused")
        )
        yield* Effect.forEach(deadLetters, resume)
        yield* eventually(remaining, (js) => js.length === 0)
      })
    )
    assert.sameMembers([...(yield* Ref.get(ran))], jobIds)
  })
