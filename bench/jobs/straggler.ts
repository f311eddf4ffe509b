// Stragglers: N items (one per chunk) that each sleep BASE ms, except that a FRACTION of them
// take SLOW ms on their first attempt only (ctx.attempt === 1), as a slow or unlucky worker
// would; a rerun of the same chunk is fast. Speculation should hide them.
// The knobs are read here, in the calling process, and travel to the workers inside the
// items: workers need not share this environment.
//   FANOUT_STRAGGLER_ITEMS (200) · FANOUT_STRAGGLER_BASE_MS (100) · FANOUT_STRAGGLER_SLOW_MS (1000)
//   FANOUT_STRAGGLER_FRACTION (0.05)
import { defineJob } from "fanout";
import { setTimeout as sleep } from "node:timers/promises";

const ITEMS = Number(process.env.FANOUT_STRAGGLER_ITEMS ?? 200);
const BASE = Number(process.env.FANOUT_STRAGGLER_BASE_MS ?? 100);
const SLOW = Number(process.env.FANOUT_STRAGGLER_SLOW_MS ?? 1000);
const FRACTION = Number(process.env.FANOUT_STRAGGLER_FRACTION ?? 0.05);

interface Item {
  i: number;
  baseMs: number;
  /** First-attempt time of a straggler; 0 for a normal item. */
  slowMs: number;
}

export default defineJob({
  // Stragglers are spread evenly: every (1 / FRACTION)-th item, starting mid-stride.
  input: (): Item[] => {
    const every = FRACTION > 0 ? Math.max(1, Math.round(1 / FRACTION)) : 0;
    return Array.from({ length: ITEMS }, (_, i) => ({
      i,
      baseMs: BASE,
      slowMs: every && i % every === Math.floor(every / 2) ? SLOW : 0,
    }));
  },
  async map(items, ctx) {
    let done = 0;
    for (const it of items) {
      const ms = ctx.attempt === 1 && it.slowMs > 0 ? it.slowMs : it.baseMs;
      try {
        await sleep(ms, undefined, { signal: ctx.signal });
      } catch {
        return -1; // cancelled: this copy lost the race, its value is ignored
      }
      done++;
    }
    return done;
  },
  reduce: (counts) => counts.reduce((a, b) => a + b, 0),
  defaults: { chunks: 200 },
});
