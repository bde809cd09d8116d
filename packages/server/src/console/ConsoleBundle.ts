/**
 * The web console's built files (packages/console/dist, made by `vite build` when the workspace is
 * installed), read into memory: a request can only name a file that the build wrote, never a path
 * of its own. Content types by extension; hashed assets are cached for a year, index.html never.
 */
import { Config, Effect, Option } from "effect"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { extname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"

/** The console's dist/ in the workspace: src/console and dist/console are both three levels under packages/. */
export const defaultDirectory = fileURLToPath(new URL("../../../console/dist", import.meta.url))

/** REDRIVE_CONSOLE_DIR: where the built console is (default: the workspace's packages/console/dist). */
export const directoryConfig = Config.string("REDRIVE_CONSOLE_DIR").pipe(Config.withDefault(defaultDirectory))

export interface ConsoleFile {
  readonly body: Uint8Array
  readonly contentType: string
  readonly cacheControl: string
}

export interface ConsoleBundle {
  readonly directory: string
  /** By URL path (`/index.html`, `/assets/index-3f2a.js`). */
  readonly files: ReadonlyMap<string, ConsoleFile>
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8"
}

// Vite names what it emits under assets/ by content hash: a changed file gets a new name.
const immutable = "public, max-age=31536000, immutable"
const revalidate = "no-cache"

const walk = (root: string, dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? walk(root, path) : entry.isFile() ? [path] : []
  })

/** The bundle in `directory`, or None when it has not been built (no index.html). */
export const load = (directory: string): Effect.Effect<Option.Option<ConsoleBundle>> =>
  Effect.sync(() => {
    const index = join(directory, "index.html")
    if (!existsSync(index) || !statSync(index).isFile()) return Option.none()
    const files = new Map<string, ConsoleFile>()
    for (const path of walk(directory, directory)) {
      const urlPath = "/" + relative(directory, path).split(sep).join("/")
      files.set(urlPath, {
        body: readFileSync(path),
        contentType: contentTypes[extname(path).toLowerCase()] ?? "application/octet-stream",
        cacheControl: urlPath.startsWith("/assets/") ? immutable : revalidate
      })
    }
    return Option.some({ directory, files })
  })
