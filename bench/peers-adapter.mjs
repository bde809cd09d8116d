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

// batch = most rows per claim, concurrency = most jobs held at once (running or waiting for a lane)
const variants = {
  'b500c1000': { batchSize: 500, concurrency: 1000, pollMs: 500, replayBatch: 2000 },
  'b1000c2000': { batchSize: 1000, concurrency: 2000, pollMs: 500, replayBatch: 2000 },
  'b2000c4000': { batchSize: 2000, concurrency: 4000, pollMs: 500, replayBatch: 2000 },
  'b1000c3000': { batchSize: 1000, concurrency: 3000, pollMs: 500, replayBatch: 2000 },
};

export default {
  key: 'redrive',
  system: 'redrive',
  version,
  variants,
  recommended: 'b500c1000',
  throughputVariants: Object.keys(variants),
  facts: {
    minBackoffMs: 0,
    enforcedDelayChainMs: () => 0,
    hasDeadLetterQueue: true,
    replayMethod: 'bulk replay request over job_dlq: one statement per batch (250, doubling up to 2000: insert jobs with lineage + stamp dead letters + NOTIFY)',
  },
  open,
};
