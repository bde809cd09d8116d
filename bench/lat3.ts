import { Database, MigrationRunner } from "@redrive/database"
import { Enqueue, JobDefinition } from "@redrive/jobs"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import pg from "pg"
const c = new pg.Client("postgres://postgres@127.0.0.1:5432/postgres"); await c.connect(); await c.query("drop database if exists rd_lat with (force)"); await c.query("create database rd_lat"); await c.end()
const rt = ManagedRuntime.make(Layer.merge(Database.layer({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/rd_lat"), maxConnections: 4 }), NodeContext.layer))
await rt.runPromise(MigrationRunner.up())
const Def = JobDefinition.make({ name: "x", payload: Schema.Unknown })
for (let i = 0; i < 200; i++) await rt.runPromise(Enqueue.one(Def, { i: 1 }))
const c0 = process.cpuUsage(); const t0 = performance.now()
for (let i = 0; i < 2000; i++) await rt.runPromise(Enqueue.one(Def, { i: 1 }))
const cu = process.cpuUsage(c0)
console.log(`per call: ${((performance.now() - t0) / 2000).toFixed(2)} ms wall, ${((cu.user + cu.system) / 2000).toFixed(0)} µs cpu`)
await rt.dispose()
