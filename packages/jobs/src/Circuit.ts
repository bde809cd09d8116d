/**
 * The circuit breaker's decisions, per job type: pure, like `Outcome.decide` — the clock reading
 * and the counts come in as arguments, a transition comes out. `CircuitBreaker.ts` reads the
 * counts from the database on the maintenance leader and carries the transitions out.
 *
 *   closed ──trip──▶ open ──cool-down over──▶ half_open ──probes all succeeded──▶ closed
 *                     ▲                          │
 *                     └──a probe failed (cool-down doubled, up to the cap)──┘
 *   open / half_open ──an operator lifted the type's control row──▶ closed (a fresh window)
 *
 * It trips when, in the last `window`, failures of the `tripOn` classes (the dependency is down)
 * are at least `failureRatio` of at least `minAttempts` attempts; successes and failures of
 * other classes (a validation error says nothing about the dependency) count as attempts only.
 */
import { Data, Duration } from "effect"

export interface Options {
  /** Error classes that mean "the dependency is down" (default external_api and timeout). */
  readonly tripOn?: ReadonlyArray<string>
  /** Trip-class failures over attempts, in (0, 1], at or above which it opens (default 0.5). */
  readonly failureRatio?: number
  /** Fewest attempts in the window before it may open (default 20). */
  readonly minAttempts?: number
  /** How far back attempts count (default 60 s, at least 1 s; counted per second). */
  readonly window?: Duration.DurationInput
  /** How long it stays open before probing (default 30 s). */
  readonly cooldown?: Duration.DurationInput
  /** Each re-open doubles the cool-down, up to this (default 10 minutes). */
  readonly maxCooldown?: Duration.DurationInput
  /** How many waiting jobs run as probes when half-open (default 3). */
  readonly probes?: number
}

/** Options resolved, durations in milliseconds (as the circuit table stores them). */
export interface Settings {
  readonly tripOn: ReadonlyArray<string>
  readonly failureRatio: number
  readonly minAttempts: number
  readonly windowMs: number
  readonly cooldownMs: number
  readonly maxCooldownMs: number
  readonly probes: number
}

export const defaults: Settings = {
  tripOn: ["external_api", "timeout"],
  failureRatio: 0.5,
  minAttempts: 20,
  windowMs: 60_000,
  cooldownMs: 30_000,
  maxCooldownMs: 600_000,
  probes: 3
}

const positiveInt = (name: string, n: number) => {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`circuitBreaker.${name} must be an integer >= 1, got ${n}`)
  return n
}

/** `true`: the defaults. Throws on a setting out of range (definitions are module-level constants). */
export const settings = (options: true | Options): Settings => {
  const o: Options = options === true ? {} : options
  const failureRatio = o.failureRatio ?? defaults.failureRatio
  if (!(failureRatio > 0 && failureRatio <= 1)) {
    throw new RangeError(`circuitBreaker.failureRatio must be in (0, 1], got ${failureRatio}`)
  }
  const tripOn = o.tripOn ?? defaults.tripOn
  if (tripOn.length === 0) throw new RangeError("circuitBreaker.tripOn must name at least one error class")
  const windowMs = o.window === undefined ? defaults.windowMs : Duration.toMillis(o.window)
  if (!(windowMs >= 1000)) throw new RangeError(`circuitBreaker.window must be at least 1 second, got ${windowMs} ms`)
  const cooldownMs = o.cooldown === undefined ? defaults.cooldownMs : Duration.toMillis(o.cooldown)
  const maxCooldownMs = o.maxCooldown === undefined ? Math.max(defaults.maxCooldownMs, cooldownMs) : Duration.toMillis(o.maxCooldown)
  if (!(cooldownMs >= 0 && maxCooldownMs >= cooldownMs && Number.isFinite(maxCooldownMs))) {
    throw new RangeError(`circuitBreaker: need 0 <= cooldown <= maxCooldown, got ${cooldownMs} ms and ${maxCooldownMs} ms`)
  }
  return {
    tripOn: [...new Set(tripOn)],
    failureRatio,
    minAttempts: positiveInt("minAttempts", o.minAttempts ?? defaults.minAttempts),
    windowMs: Math.round(windowMs),
    cooldownMs: Math.round(cooldownMs),
    maxCooldownMs: Math.round(maxCooldownMs),
    probes: positiveInt("probes", o.probes ?? defaults.probes)
  }
}

export type State = Data.TaggedEnum<{
  /** Attempts count from `countedFrom` on (a close starts a fresh window). */
  Closed: { readonly countedFrom: number }
  Open: { readonly openedAt: number; readonly cooldownMs: number; readonly reopens: number }
  /** `released`: probe jobs made available so far. */
  HalfOpen: { readonly since: number; readonly cooldownMs: number; readonly reopens: number; readonly released: number }
}>
export const State = Data.taggedEnum<State>()

/**
 * The attempts and trip-class failures that ended in the second starting at `at` (ms, on the
 * database's clock: workers send how long ago each attempt ended, not their own clock).
 */
export interface Bucket {
  readonly at: number
  readonly attempts: number
  readonly failures: number
}

export interface Counts {
  readonly attempts: number
  readonly failures: number
}

export interface Observation {
  readonly now: number
  /** Per-second counts, at least those of the window and, when half-open, since `since`. */
  readonly buckets: ReadonlyArray<Bucket>
  /** The type's control row (tenant `*`, queue `*`) exists: nobody lifted the pause. */
  readonly controlled: boolean
}

export type CloseReason = "probes_succeeded" | "operator_resumed"

export type Transition = Data.TaggedEnum<{
  Stay: {}
  /** Closed → open, or half-open → open again (`reopens` > 0) with the longer cool-down. */
  Open: { readonly cooldownMs: number; readonly reopens: number; readonly counts: Counts }
  /** Open → half-open: the type stays paused; its probes are released from the next whole second. */
  HalfOpen: {}
  /** Half-open and no probe out yet: make up to `probes` waiting jobs available (again, if none was waiting). */
  ReleaseProbes: { readonly probes: number }
  Close: { readonly reason: CloseReason }
}>
export const Transition = Data.taggedEnum<Transition>()

/**
 * What one settled attempt adds to its type's counts: a success or any failure is an attempt;
 * a failure of a trip class (retried or dead-lettered) is also a failure. A snooze used no
 * attempt, a release (shutdown) ran nothing, and a discard is the handler's own decision about
 * its job, not the dependency's health: none of these counts.
 */
export const tally = (
  s: Pick<Settings, "tripOn">,
  outcome: { readonly _tag: string; readonly errorClass?: string }
): Counts => {
  switch (outcome._tag) {
    case "Completed":
      return { attempts: 1, failures: 0 }
    case "Retried":
    case "DeadLettered":
      return { attempts: 1, failures: outcome.errorClass !== undefined && s.tripOn.includes(outcome.errorClass) ? 1 : 0 }
    default:
      return { attempts: 0, failures: 0 }
  }
}

const sum = (buckets: ReadonlyArray<Bucket>, from: number, to: number): Counts => {
  let attempts = 0
  let failures = 0
  for (const b of buckets) {
    if (b.at >= from && b.at <= to) {
      attempts += b.attempts
      failures += b.failures
    }
  }
  return { attempts, failures }
}

const second = (ms: number) => Math.floor(ms / 1000) * 1000

/**
 * Where a closed circuit's window starts: `window` back from now, but never before the close
 * (or operator's resume) that reset it. A bucket counts when its second starts in the window,
 * so the second in which a reset happened (counts from before it) is left out.
 */
export const windowStart = (s: Settings, countedFrom: number, now: number) => Math.max(now - s.windowMs, countedFrom)

/** The window's counts of a closed circuit. */
export const windowCounts = (s: Settings, countedFrom: number, o: Pick<Observation, "now" | "buckets">): Counts =>
  sum(o.buckets, windowStart(s, countedFrom, o.now), o.now)

/**
 * When a half-open circuit's probes may run, and from when their counts are read: the whole
 * second after it went half-open, so attempts that ended before (jobs that were running when it
 * opened) share no bucket with the probes and cannot decide for them.
 */
export const probeStart = (since: number) => second(since) + 1000

/** The counts of a half-open circuit's probes: from `probeStart` on. */
export const probeCounts = (since: number, o: Pick<Observation, "now" | "buckets">): Counts =>
  sum(o.buckets, probeStart(since), o.now)

/** At least `minAttempts` attempts, of which at least `failureRatio` failed with a trip class. */
export const trips = (s: Settings, c: Counts) => c.attempts >= s.minAttempts && c.failures / c.attempts >= s.failureRatio

/** The cool-down after one more re-open: doubled, at most `maxCooldownMs`. */
export const longerCooldown = (s: Settings, cooldownMs: number) => Math.min(cooldownMs * 2, s.maxCooldownMs)

export const decide = (s: Settings, state: State, o: Observation): Transition => {
  switch (state._tag) {
    case "Closed": {
      const counts = windowCounts(s, state.countedFrom, o)
      return trips(s, counts) ? Transition.Open({ cooldownMs: s.cooldownMs, reopens: 0, counts }) : Transition.Stay()
    }
    case "Open":
      if (!o.controlled) return Transition.Close({ reason: "operator_resumed" })
      return o.now >= state.openedAt + state.cooldownMs ? Transition.HalfOpen() : Transition.Stay()
    case "HalfOpen": {
      if (!o.controlled) return Transition.Close({ reason: "operator_resumed" })
      const counts = probeCounts(state.since, o)
      if (counts.failures > 0) {
        return Transition.Open({ cooldownMs: longerCooldown(s, state.cooldownMs), reopens: state.reopens + 1, counts })
      }
      if (state.released > 0 && counts.attempts >= state.released) return Transition.Close({ reason: "probes_succeeded" })
      return state.released === 0 && o.now >= probeStart(state.since)
        ? Transition.ReleaseProbes({ probes: s.probes })
        : Transition.Stay()
    }
  }
}

/** The state after a transition taken at `now`; `released`: how many probes ReleaseProbes made available. */
export const next = (state: State, transition: Transition, now: number, released = 0): State => {
  switch (transition._tag) {
    case "Stay":
      return state
    case "Open":
      return State.Open({ openedAt: now, cooldownMs: transition.cooldownMs, reopens: transition.reopens })
    case "HalfOpen":
      return state._tag === "Open"
        ? State.HalfOpen({ since: now, cooldownMs: state.cooldownMs, reopens: state.reopens, released: 0 })
        : state
    case "ReleaseProbes":
      return state._tag === "HalfOpen" ? State.HalfOpen({ ...state, released: state.released + released }) : state
    case "Close":
      return State.Closed({ countedFrom: now })
  }
}
