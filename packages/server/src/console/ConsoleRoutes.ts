/**
 * The web console at `/`: the built files of packages/console (ConsoleBundle), and index.html for
 * every other GET outside the API so the console's own routes (`/dead-letters/42`) load on a
 * reload. The API's paths keep their own 404s. When the bundle has not been built, `/` says so
 * (503) instead of failing; it is looked for again on each such request, so a build done while
 * the server runs is picked up.
 */
import { HttpLayerRouter, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Option, Ref } from "effect"
import * as ConsoleBundle from "./ConsoleBundle.js"

// Paths that belong to the API and the operators' routes: an unknown one there is a 404, never the console.
const notConsole = /^\/(v1|rpc|docs|openapi\.json|healthz|readyz|metrics)(\/|$)/

const securityHeaders = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // The console loads only its own files and talks only to this server; no frames, no inline script.
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
}

const respond = (file: ConsoleBundle.ConsoleFile) =>
  HttpServerResponse.uint8Array(file.body, {
    contentType: file.contentType,
    headers: { "cache-control": file.cacheControl, ...securityHeaders }
  })

const notBuilt = (directory: string) =>
  HttpServerResponse.html(
    `<!doctype html><meta charset="utf-8"><title>Redrive console not built</title>
<h1>The Redrive console is not built</h1>
<p>No <code>index.html</code> in <code>${directory.replace(/[<>&]/g, "")}</code>.</p>
<p>Build it with <code>npx -y pnpm@10.34.8 --filter @redrive/console build</code> (the workspace's install does this),
or point <code>REDRIVE_CONSOLE_DIR</code> at a built console. The API at <code>/v1</code> works without it.</p>`
  ).pipe(HttpServerResponse.setStatus(503), HttpServerResponse.setHeader("cache-control", "no-store"))

/** `directory`: the built console; default REDRIVE_CONSOLE_DIR, else the workspace's packages/console/dist. */
export const layer = (directory?: string) => Layer.effectDiscard(Effect.gen(function*() {
  const router = yield* HttpLayerRouter.HttpRouter
  const from = directory ?? (yield* ConsoleBundle.directoryConfig)
  const bundle = yield* Ref.make(yield* ConsoleBundle.load(from))

  const current = Effect.flatMap(Ref.get(bundle), (loaded) =>
    Option.isSome(loaded)
      ? Effect.succeed(loaded)
      : Effect.tap(ConsoleBundle.load(from), (found) => Ref.set(bundle, found)))

  const serve = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const path = decodeURIComponent(new URL(request.url, "http://console").pathname)
      if (notConsole.test(path)) return HttpServerResponse.empty({ status: 404 })
      const loaded = yield* current
      if (Option.isNone(loaded)) return notBuilt(from)
      const file = loaded.value.files.get(path)
      if (file !== undefined) return respond(file)
      // A missing asset is a 404 (a stale tab asking for an old hash), not the page.
      if (path.startsWith("/assets/")) return HttpServerResponse.empty({ status: 404 })
      return respond(loaded.value.files.get("/index.html")!)
    }).pipe(Effect.catchAllDefect(() => Effect.succeed(HttpServerResponse.empty({ status: 400 }))))

  yield* router.add("GET", "/", serve)
  yield* router.add("GET", "/*", serve)
}))
