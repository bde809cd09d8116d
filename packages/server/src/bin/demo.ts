#!/usr/bin/env node
/** `pnpm demo` (also `redrive demo`): Redrive's failure path in a dozen seconds (../demo/Demo.ts). */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Demo from "../demo/Demo.js"

Demo.program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
