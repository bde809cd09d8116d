import { defineConfig } from "vitest/config"

export default defineConfig({
  // In this workspace @redrive/* resolve to their sources (no build needed); a service that
  // installs the packages from a registry leaves this out and gets their dist/.
  ssr: { resolve: { conditions: ["@redrive/source"] } },
  test: {
    name: "billing",
    root: import.meta.dirname,
    include: ["test/**/*.test.ts"],
    // Redrive's migrations, then billing's, in a template each test file clones.
    globalSetup: ["test/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    sequence: { shuffle: true },
    // One database per file: files run in parallel in forked processes.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
