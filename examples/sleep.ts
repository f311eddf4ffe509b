// Each chunk waits a fixed time: the stand-in for "one hour as 360 ten-second invocations".
// FANOUT_SLEEP_MS (default 2000) and FANOUT_SLEEP_ITEMS (default 360) are read here, in the
// calling process, and travel to the workers inside the chunks.
import { defineJob } from "fanout";
import { setTimeout as sleep } from "node:timers/promises";

const MS = Number(process.env.FANOUT_SLEEP_MS ?? 2000);
const ITEMS = Number(process.env.FANOUT_SLEEP_ITEMS ?? 360);

export default defineJob({
  input: () => Array.from({ length: ITEMS }, () => MS),
  async map(waits, ctx) {
    for (const ms of waits) await sleep(ms, undefined, { signal: ctx.signal });
    return waits.length;
  },
  reduce: (counts) => ({ items: counts.reduce((a, b) => a + b, 0), msEach: MS }),
  defaults: { chunks: 360 },
});
