// The Effect floor for the peers benchmark (bench/src/effect-floor.ts): the reference's queue
// written on Redrive's stack (effect, @effect/sql-pg) with nothing of Redrive's on top, so one run
// shows what the stack costs (floor against reference) and what Redrive's features cost (Redrive
// against floor):
//   node bench.js --systems=reference,/abs/path/to/bench/floor-adapter.mjs,/abs/path/to/bench/peers-adapter.mjs
// Bundled into dist/effect-floor.mjs by `pnpm bench:build` (run by `pnpm bench`).
import { existsSync, readFileSync } from 'node:fs';

const bundle = new URL('./dist/effect-floor.mjs', import.meta.url);
if (!existsSync(bundle)) {
  throw new Error(`effect floor adapter: ${bundle.pathname} is missing; run \`npx -y pnpm@10.34.8 bench:build\` in the Redrive repository`);
}
const { open } = await import(bundle.href);
const effectVersion = JSON.parse(readFileSync(new URL('./node_modules/effect/package.json', import.meta.url), 'utf8')).version;

// loops = concurrent claim loops, batch = rows per claim (the reference's presets)
const variants = {
  'b500x2': { loops: 2, batch: 500, pollMs: 500 },
  'b1000x2': { loops: 2, batch: 1000, pollMs: 500 },
  'b100x4': { loops: 4, batch: 100, pollMs: 500 },
};

export default {
  key: 'effectfloor',
  system: 'effect floor',
  version: `effect ${effectVersion}`,
  variants,
  recommended: 'b500x2',
  throughputVariants: Object.keys(variants),
  facts: {
    minBackoffMs: 0,
    enforcedDelayChainMs: () => 0,
    hasDeadLetterQueue: true,
    replayMethod: 'one statement: delete from floor_dlq returning ... insert into floor_job, then NOTIFY',
  },
  open,
};
