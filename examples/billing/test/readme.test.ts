/**
 * The README's "Use it from your service" snippets are taken from this example: each block under a
 * `<!-- examples/billing/… -->` marker must appear in that file, line by line in order (blank
 * lines aside; a line starting `// …` stands for lines left out). A snippet that drifts from the code fails here.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const readme = readFileSync(`${root}README.md`, "utf8")

const snippets = [...readme.matchAll(/<!-- (examples\/billing\/[^ ]+) -->\n```\w*\n([\s\S]*?)```/g)].map((m) => ({
  file: m[1]!,
  lines: m[2]!.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
}))

/** Where `lines` stop matching `source` in order, or -1 when every line was found. */
const firstMissing = (source: ReadonlyArray<string>, lines: ReadonlyArray<string>) => {
  let at = 0
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.startsWith("// …")) continue
    // The next line of the snippet must follow directly, unless a `// …` was skipped just before.
    const skipped = i > 0 && lines[i - 1]!.startsWith("// …")
    const found = source.indexOf(line, at)
    if (found === -1 || (i > 0 && !skipped && found !== at)) return i
    at = found + 1
  }
  return -1
}

describe("README snippets", () => {
  it("quotes the example in at least eight places", () => {
    assert.isAtLeast(snippets.length, 8)
  })

  for (const { file, lines } of snippets) {
    it(`${file}: ${lines[0]}`, () => {
      const source = readFileSync(`${root}${file}`, "utf8").split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
      const missing = firstMissing(source, lines)
      assert.strictEqual(missing, -1, `line ${missing + 1} of the snippet is not in ${file}: ${lines[missing]}`)
    })
  }
})
