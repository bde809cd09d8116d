// `prepack`: copies the repository's migrations/ (the single source of truth) into the package,
// so the tarball ships them; `postpack` (--remove) deletes the copy again, so the workspace never
// runs a stale copy (MigrationRunner.directory prefers the package's own folder when present).
import { cpSync, rmSync } from "node:fs"

const target = new URL("../migrations/", import.meta.url)
rmSync(target, { recursive: true, force: true })
if (!process.argv.includes("--remove")) {
  cpSync(new URL("../../../migrations/", import.meta.url), target, { recursive: true })
}
