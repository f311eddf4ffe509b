// Monte Carlo estimate of pi over 10^8 samples (FANOUT_PI_SAMPLES to change).
// Sample i is drawn from a counter-based generator seeded by i alone, so the estimate is the
// same for any number of chunks and on any backend: a run can be checked, not just trusted.
import { defineJob, range } from "fanout";

const SAMPLES = Number(process.env.FANOUT_PI_SAMPLES ?? 1e8);

/** splitmix32-style hash of a counter: a uniform 32-bit value per (i, stream). */
function hash(i: number, stream: number): number {
  let z = (Math.imul(i, 0x9e3779b9) ^ Math.imul(stream + 1, 0x85ebca6b)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export default defineJob({
  input: range(0, SAMPLES),
  map({ start, end }) {
    let inside = 0;
    for (let i = start; i < end; i++) {
      const x = hash(i, 0) / 4294967296;
      const y = hash(i, 1) / 4294967296;
      if (x * x + y * y < 1) inside++;
    }
    return inside;
  },
  reduce(counts) {
    const inside = counts.reduce((a, b) => a + b, 0);
    return 4 * inside / SAMPLES;
  },
});
