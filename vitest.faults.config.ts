import { configDefaults, defineConfig } from "vitest/config"

// The fault suite: real worker processes killed, stopped and cut off from Postgres, minutes per
// file. Not part of `pnpm test`; run with `pnpm test:faults` (README, "Fault suite").
export default defineConfig({
  ssr: { resolve: { conditions: ["@redrive/source"] } },
  test: {
    name: "faults",
    include: ["**/*.faults.test.ts"],
    exclude: [...configDefaults.exclude],
    // The same template databases as the default suite: each file clones its own.
    globalSetup: ["packages/database/src/testing/globalSetup.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // One file at a time: each one loads both cores with its worker processes, and the figures
    // it prints (jobs/s, time to drain) mean something only when it runs alone.
    pool: "forks",
    fileParallelism: false
  }
})
