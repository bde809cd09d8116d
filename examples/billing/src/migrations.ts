/** Where the billing service's migrations are, and the source name their history is kept under. */
import { fileURLToPath } from "node:url"

/** `migrations/` beside `src/` (and beside `dist/` when compiled). */
export const source = {
  source: "billing",
  directory: fileURLToPath(new URL("../migrations", import.meta.url))
} as const
