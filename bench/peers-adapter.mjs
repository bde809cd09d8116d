// Redrive's adapter for the peers benchmark (see ../shared/bench-peers/README.md):
//   node bench.js --systems=graphile,pgboss,reference,/abs/path/to/bench/peers-adapter.mjs
// The Redrive side is bundled into dist/redrive-peers.mjs by `pnpm bench:build` (run by `pnpm bench`),
// so the harness needs nothing but plain Node.
import { existsSync, readFileSync } from 'node:fs';

const bundle = new URL('./dist/redrive-peers.mjs', import.meta.url);
if (!existsSync(bundle)) {
  throw new Error(`redrive adapter: ${bundle.pathname} is missing; run \`npx -y pnpm@10.34.8 bench:build\` in the Redrive repository`);
}
const { open } = await import(bundle.href);
const version = JSON.parse(readFileSync(new URL('../packages/jobs/package.json', import.meta.url), 'utf8')).version;

// batch = rows per claim, loops = claim loops, concurrency = handlers in flight per loop
const variants = {
  'b1000x2': { batchSize: 1000, loops: 2, concurrency: 200, pollMs: 500, replayBatch: 2000 },
  'b500x2': { batchSize: 500, loops: 2, concurrency: 100, pollMs: 500, replayBatch: 2000 },
  'b500x3': { batchSize: 500, loops: 3, concurrency: 100, pollMs: 500, replayBatch: 2000 },
  'b2000x2': { batchSize: 2000, loops: 2, concurrency: 200, pollMs: 500, replayBatch: 2000 },
  'b1000x3': { batchSize: 1000, loops: 3, concurrency: 200, pollMs: 500, replayBatch: 2000 },
};

export default {
  key: 'redrive',
  system: 'redrive',
  version,
  variants,
  recommended: 'b500x2',
  throughputVariants: Object.keys(variants),
  facts: {
    minBackoffMs: 0,
    enforcedDelayChainMs: () => 0,
    hasDeadLetterQueue: true,
    replayMethod: 'bulk replay request over job_dlq: one statement per batch of 2000 (insert jobs with lineage + stamp dead letters + NOTIFY)',
  },
  open,
};
