/**
 * The job definitions a process knows, by name. Replay needs it to validate an edited
 * payload. `Redrive.layer` builds it from the definitions it is given (and a worker's handlers).
 */
import { Context, Layer, Option } from "effect"
import type { AnyJobDefinition } from "./JobDefinition.js"

export class JobRegistry extends Context.Tag("@redrive/jobs/JobRegistry")<JobRegistry, {
  readonly get: (name: string) => Option.Option<AnyJobDefinition>
  readonly all: ReadonlyArray<AnyJobDefinition>
}>() {}

export const make = (definitions: ReadonlyArray<AnyJobDefinition>): typeof JobRegistry.Service => {
  const byName = new Map(definitions.map((d) => [d.name as string, d]))
  return { get: (name) => Option.fromNullable(byName.get(name)), all: [...byName.values()] }
}

export const layer = (definitions: ReadonlyArray<AnyJobDefinition>) => Layer.succeed(JobRegistry, make(definitions))
