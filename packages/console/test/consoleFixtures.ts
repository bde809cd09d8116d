/**
 * What the console's browser tests stand on: the console built from its sources into a temporary
 * directory (so the test sees this checkout's code, not an old dist/), Redrive's server on the test
 * database serving it, with a worker in this process for the test's job type (completed jobs kept,
 * so a replay can be watched until it has run), and a headless Debian Chromium.
 */
import { Factory, Scratch, TestDatabase } from "@redrive/database/testing"
import { JobDefinition } from "@redrive/jobs"
import * as ApiKeys from "@redrive/server/auth/ApiKeys"
import * as Server from "@redrive/server/Server"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"
import { build } from "vite"

export const Email = JobDefinition.make({
  name: "console.email",
  queue: "console-mail",
  payload: Schema.Struct({ to: Schema.String.pipe(Schema.pattern(/@/, { message: () => "expected an email address" })) })
})

/** Screenshots of each page, kept as test artifacts (gitignored). */
export const artifacts = fileURLToPath(new URL("../test-artifacts/", import.meta.url))

const consoleRoot = fileURLToPath(new URL("..", import.meta.url))

export const chromiumFlags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run"
]

export class ConsoleServer extends Context.Tag("test/ConsoleServer")<ConsoleServer, {
  readonly baseUrl: string
  readonly browser: Browser
}>() {}

const builtConsole = Effect.acquireRelease(
  Effect.promise(async () => {
    const outDir = mkdtempSync(join(tmpdir(), "redrive-console-"))
    await build({ root: consoleRoot, logLevel: "warn", build: { outDir, emptyOutDir: true } })
    return outDir
  }),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

export const layer = Layer.scoped(
  ConsoleServer,
  Effect.gen(function*() {
    mkdirSync(artifacts, { recursive: true })
    const info = yield* TestDatabase.TestDatabaseInfo
    const consoleDirectory = yield* builtConsole
    const port = yield* Scratch.freePort
    yield* Layer.build(Server.layer({
      http: { port, host: "127.0.0.1" },
      consoleDirectory,
      redrive: {
        database: { url: info.url },
        definitions: [Email],
        cursorSecret: Redacted.make("console-test-cursor-secret-0123")
      },
      worker: {
        handlers: [JobDefinition.handle(Email, () => Effect.void)],
        keepCompleted: true,
        pollInterval: "200 millis"
      }
    }))
    const browser = yield* Effect.acquireRelease(
      Effect.promise(() => chromium.launch({ executablePath: "/usr/bin/chromium", args: chromiumFlags })),
      (b) => Effect.promise(() => b.close())
    )
    return { baseUrl: `http://127.0.0.1:${port}`, browser }
  })
)

export const newKey = (name: string, tenant: string | null, access: "write" | "read" = "write") =>
  Effect.map(Effect.flatMap(ApiKeys.ApiKeys, (keys) => keys.create({ name, tenant, access })), (k) => k.secret)

/**
 * Dead letters of the test's job type for a tenant, with the failure counters their settles would
 * have written (the group counters count the rows themselves, by trigger).
 */
export const seedDeadLetters = (tenantId: string, n: number, overrides: NonNullable<Parameters<typeof Factory.deadLetter>[0]> = {}) =>
  Effect.zipLeft(
    insertDeadLetters(tenantId, n, overrides),
    Factory.insertFailureStat({ tenantId, queue: Email.queue, type: Email.name, failures: n, deadLettered: n })
  )

const insertDeadLetters = (tenantId: string, n: number, overrides: NonNullable<Parameters<typeof Factory.deadLetter>[0]>) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) =>
      Factory.insertDeadLetter({
        tenantId: Factory.tenant(tenantId),
        queue: Factory.queue(Email.queue),
        type: Factory.jobType(Email.name),
        payload: { to: `customer${i}@example.com` },
        errorReason: `mailbox unavailable for customer${i}@example.com`,
        ...overrides
      }),
    { concurrency: 1 }
  )

/** A browser tab signed in with `key`, closed afterwards. */
export const withPage = <A>(key: string, f: (page: Page, baseUrl: string) => Promise<A>) =>
  Effect.flatMap(ConsoleServer, ({ baseUrl, browser }) =>
    Effect.acquireUseRelease(
      Effect.promise(() => browser.newPage({ viewport: { width: 1400, height: 900 } })),
      (page) =>
        Effect.promise(async () => {
          const errors: Array<string> = []
          page.on("pageerror", (e) => errors.push(e.message))
          await page.goto(baseUrl)
          await page.fill("input[name=key]", key)
          await page.click("button[type=submit]")
          await page.waitForSelector("[data-testid=who]")
          const result = await f(page, baseUrl)
          if (errors.length > 0) throw new Error(`errors in the page: ${errors.join("; ")}`)
          return result
        }),
      (page) => Effect.promise(() => page.close())
    ))

export const screenshot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true })

/** Presses an action button (within `scope`) and answers its confirmation with Confirm. */
export const confirmAction = async (page: Page, button: string, scope = "body") => {
  const root = page.locator(scope)
  await root.locator(`[data-testid=${button}]`).click()
  const box = root.locator(".confirm-box").first()
  await box.waitFor()
  const question = (await box.textContent()) ?? ""
  await box.getByRole("button", { name: "Confirm" }).click()
  return question
}
