import { defineConfig } from "vitest/config"

// The pure modules' tests: no database, no globalSetup. Stryker runs these (`pnpm test:mutation`);
// the same files also run in the main suite through vitest.config.ts.
export default defineConfig({
  test: {
    include: [
      "packages/jobs/test/RetryPolicy.test.ts",
      "packages/jobs/test/Outcome.test.ts",
      "packages/jobs/test/Classify.test.ts",
      "packages/database/test/ErrorHistory.test.ts"
    ],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
