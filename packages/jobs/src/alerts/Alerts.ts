/**
 * Alerts as a maintenance task (Maintenance.ts runs it in the elected process): the dispatcher
 * and the evaluator, each on a fiber of its own, so neither waits for the other.
 */
import { Effect } from "effect"
import * as Dispatcher from "./Dispatcher.js"
import * as Evaluator from "./Evaluator.js"

export interface AlertsOptions {
  readonly dispatcher?: Dispatcher.DispatcherOptions
  readonly evaluator?: Evaluator.EvaluatorOptions | false
}

export const task = (options: AlertsOptions = {}) =>
  Effect.gen(function*() {
    if (options.evaluator !== false) yield* Effect.fork(Evaluator.task(options.evaluator ?? {}))
    return yield* Dispatcher.task(options.dispatcher ?? {})
  })
