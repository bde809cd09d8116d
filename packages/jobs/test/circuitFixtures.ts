/** A dependency that goes down and comes back, a breaker-enabled job type calling it, and what the tests read back. */
import { SqlClient } from "@effect/sql"
import { Factory } from "@redrive/database/testing"
import { type Duration, Effect, Ref, Schema } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as JobErrors from "../src/JobErrors.js"
import { eventually } from "./workerFixtures.js"

export const Payload = Schema.Struct({ n: Schema.Number })

/** Short real windows: 10 attempts in 5 s, 1 s of cool-down doubling to 4 s, 2 probes. */
export const testBreaker = {
  window: "5 seconds",
  minAttempts: 10,
  failureRatio: 0.5,
  cooldown: "1 second",
  maxCooldown: "4 seconds",
  probes: 2
} as const

/** A type with the test breaker, in a queue of its own; retries come back quickly. */
export const breakerType = (prefix: string, queue = Factory.queue()) =>
  JobDefinition.make({
    name: Factory.unique(prefix),
    queue,
    payload: Payload,
    retry: { maxAttempts: 50, base: "100 millis", max: "100 millis", jitter: "none" },
    circuitBreaker: testBreaker
  })

export type Health = "up" | "down" | "invalid"

/** The outside service: up, down (503: external_api) or refusing every request as invalid (validation). */
export const dependency = (initial: Health) =>
  Effect.map(Ref.make<Health>(initial), (health) => ({
    health,
    call: Effect.flatMap(
      Ref.get(health),
      (h): Effect.Effect<void, JobErrors.ExternalApiError | JobErrors.ValidationError> =>
        h === "up"
          ? Effect.void
          : h === "down"
          ? Effect.fail(new JobErrors.ExternalApiError({ message: "503 Service Unavailable", status: 503 }))
          : Effect.fail(new JobErrors.ValidationError({ message: "422 invalid contact", field: "n" }))
    )
  }))

/** Passes of the breaker until `type`'s circuit makes `transition` (each pass drives every circuit). */
export const untilTransition = (
  type: string,
  transition: CircuitBreaker.Step["transition"],
  timeout: Duration.DurationInput = "15 seconds"
) =>
  eventually(
    Effect.map(
      CircuitBreaker.runOnce({ batchSize: 7 }),
      (steps): CircuitBreaker.Step | undefined => steps.find((s) => s.type === type)
    ),
    (step) => step?.transition === transition,
    timeout
  )

export interface CircuitRow {
  readonly state: string
  readonly reopens: number
  readonly openCooldownMs: number | null
  readonly probesReleased: number
  readonly pendingMove: string | null
}

export const circuitOf = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<CircuitRow>`select state, reopens, open_cooldown_ms, probes_released, pending_move
                      from redrive.circuit where type = ${type}`,
      (rows) => rows[0]
    ))

export interface ControlEventRow {
  readonly action: string
  readonly previousState: string | null
  readonly reason: string | null
  readonly actor: string
}

/** The audit trail of the type's own control row (tenant `*`, queue `*`), oldest first. */
export const eventsOf = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<ControlEventRow>`select action, previous_state, reason, actor from redrive.control_event
                         where tenant_id = '*' and queue = '*' and type = ${type} order by id`)

export const controlOf = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ state: string; reason: string | null; initiatedBy: string }>`
        select state, reason, initiated_by from redrive.control where tenant_id = '*' and queue = '*' and type = ${type}`,
      (rows) => rows[0]
    ))

/** Alert outbox rows about the type's circuit, oldest first. */
export const alertsOf = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ event: string; reason: string }>`
      select event, payload ->> 'reason' as reason from redrive.alert_delivery
      where event like 'circuit.%' and payload ->> 'type' = ${type} order by id`)

/** A global channel that wants the circuit events (once per test database). */
export const circuitChannel = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`insert into redrive.alert_channel (tenant_id, name, kind, url, events)
      values (null, 'circuits', 'webhook', 'http://127.0.0.1:9/hook', '{circuit.opened,circuit.closed}')
      on conflict do nothing`.pipe(Effect.asVoid))

export interface JobState {
  readonly id: number
  readonly state: string
  readonly attempt: number
}

/** The type's jobs still in the table (completed ones are kept by the tests' workers), by id. */
export const jobsOf = (type: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ id: string; state: string; attempt: number }>`
        select id, state, attempt from redrive.job where type = ${type} order by id`,
      (rows) => rows.map((r): JobState => ({ id: Number(r.id), state: r.state, attempt: r.attempt }))
    ))

export const statesOf = (jobs: ReadonlyArray<JobState>) => {
  const counts: Record<string, number> = {}
  for (const j of jobs) counts[j.state] = (counts[j.state] ?? 0) + 1
  return counts
}
