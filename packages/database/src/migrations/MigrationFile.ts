/**
 * Migration files: `NNNN_name.sql` in one directory, applied in numeric order.
 * The checksum is taken over the text with line endings normalised, so a checkout with
 * CRLF endings does not look like an edited file.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { MigrationFailed, MigrationRefused } from "./MigrationError.js"

export interface MigrationFile {
  readonly id: number
  readonly name: string
  readonly file: string
  readonly sql: string
  readonly checksum: string
}

const fileName = /^(\d+)_([a-z0-9_]+)\.sql$/

export const checksum = (sql: string): string =>
  createHash("sha256").update(sql.replace(/\r\n/g, "\n")).digest("hex")

export const loadDirectory = Effect.fn("Migrations.loadDirectory")(function*(directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const entries = yield* fs.readDirectory(directory).pipe(
    Effect.mapError((e) => new MigrationFailed({ file: directory, message: `cannot read migrations: ${e.message}` }))
  )
  const files: Array<MigrationFile> = []
  for (const entry of entries.filter((e) => e.endsWith(".sql")).sort()) {
    const match = fileName.exec(entry)
    if (!match) {
      return yield* new MigrationRefused({
        file: entry,
        reason: "invalid_name",
        message: `${entry}: migration files are named NNNN_lowercase_name.sql`
      })
    }
    const sql = yield* fs.readFileString(path.join(directory, entry)).pipe(
      Effect.mapError((e) => new MigrationFailed({ file: entry, message: e.message }))
    )
    files.push({ id: Number(match[1]), name: match[2]!, file: entry, sql, checksum: checksum(sql) })
  }
  files.sort((a, b) => a.id - b.id)
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.id === files[i - 1]!.id) {
      return yield* new MigrationRefused({
        file: files[i]!.file,
        reason: "duplicate_id",
        message: `${files[i]!.file} has the same number as ${files[i - 1]!.file}`
      })
    }
  }
  return files as ReadonlyArray<MigrationFile>
})
