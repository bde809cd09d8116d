export * as AdminClient from "./AdminClient.js"
export * as Factory from "./Factory.js"
export * as Scratch from "./Scratch.js"
export * as TestDatabase from "./TestDatabase.js"
