import { configDefaults, defineConfig } from "vitest/config"

// REDRIVE_TEST_INCLUDE: the test-command test runs this very config over a known-failing fixture
// (Redrive's project only).
const only = process.env.REDRIVE_TEST_INCLUDE

export default defineConfig({
  // The workspace packages' sources, not their dist/ (which a clean clone has not built): see the
  // "@redrive/source" condition in the packages' exports and tsconfig.base.json. Tests run in
  // vite's ssr environment, so its resolve conditions are the ones that count.
  ssr: { resolve: { conditions: ["@redrive/source"] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Every run is shuffled (files and tests; the seed is printed, `--sequence.seed=N` replays it):
    // a test that depends on another's rows or order fails here, not in a user's hands.
    sequence: { shuffle: true },
    // Each file has its own database; two cores, so two files at a time.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        extends: true,
        test: {
          name: "redrive",
          include: [only ?? "packages/*/test/**/*.test.ts"],
          // The fault suite (real processes, minutes each) runs on its own: `pnpm test:faults`.
          exclude: [...configDefaults.exclude, "**/*.faults.test.ts"],
          globalSetup: ["packages/database/src/testing/globalSetup.ts"]
        }
      },
      // The example services, each with its own config and global setup, as a consumer has them.
      ...(only === undefined ? ["examples/*/vitest.config.ts"] : [])
    ]
  }
})
