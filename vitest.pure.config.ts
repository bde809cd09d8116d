import type { RunnerTestCase, RunnerTestFile } from "vitest"
import { defineConfig } from "vitest/config"
import type { Reporter } from "vitest/reporters"

/**
 * Stryker's vitest runner scores a mutant from the tests it collected, and a test file whose
 * import throws collects none: a mutant that stops a module from loading (`defaultPolicy = make()`
 * throwing) would count as survived although every test of the file fails
 * (stryker-mutator/stryker-js#6150). Under Stryker only, such a file reports one failed test.
 */
const unloadableFileFails: Reporter = {
  onFinished: (files: ReadonlyArray<RunnerTestFile>) => {
    for (const file of files) {
      if (file.result?.state !== "fail" || file.tasks.length > 0) continue
      const loadFailure: Pick<RunnerTestCase, "type" | "id" | "name" | "mode" | "file" | "suite" | "result" | "meta"> = {
        type: "test",
        id: `${file.id}_load`,
        name: "the test file loads",
        mode: "run",
        file,
        suite: file,
        result: { state: "fail", ...(file.result.errors ? { errors: file.result.errors } : {}) },
        meta: {}
      }
      file.tasks.push(loadFailure as RunnerTestCase)
    }
  }
}

// The pure modules' tests: no database, no globalSetup. Stryker runs these (`pnpm test:mutation`);
// the same files also run in the main suite through vitest.config.ts.
export default defineConfig({
  // The workspace packages' sources, not their dist/: see vitest.config.ts.
  ssr: { resolve: { conditions: ["@redrive/source"] } },
  test: {
    include: [
      "packages/jobs/test/RetryPolicy.test.ts",
      "packages/jobs/test/Outcome.test.ts",
      "packages/jobs/test/Classify.test.ts",
      "packages/jobs/test/ClassifyCorpus.test.ts",
      "packages/jobs/test/ClassifyRules.test.ts",
      "packages/jobs/test/Verdict.test.ts",
      "packages/jobs/test/Circuit.test.ts",
      "packages/database/test/ErrorHistory.test.ts",
      "packages/database/test/Cursor.test.ts"
    ],
    reporters: process.env["STRYKER_MUTATOR_WORKER"] === undefined ? ["default"] : ["default", unloadableFileFails],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
