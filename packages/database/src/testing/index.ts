/**
 * Test helpers for Redrive's suites and for services that use Redrive: a vitest global setup
 * (`globalSetup(options)`, with the service's own migrations), a database per test file
 * (`TestDatabase.layer`), row factories, scratch ports and directories, superuser statements.
 */
export * as AdminClient from "./AdminClient.js"
export * as Cleanup from "./Cleanup.js"
export * as Factory from "./Factory.js"
export { globalSetup, type Options as GlobalSetupOptions, prepare, type Prepared } from "./globalSetup.js"
export * as Scratch from "./Scratch.js"
export * as Template from "./Template.js"
export * as TestDatabase from "./TestDatabase.js"
