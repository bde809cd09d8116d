export * as AdminClient from "./AdminClient.js"
export * as TestDatabase from "./TestDatabase.js"
