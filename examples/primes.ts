// Count the primes below 10^7 (the answer is 664579) with a segmented sieve per chunk.
import { defineJob, range } from "fanout";

const LIMIT = Number(process.env.FANOUT_PRIMES_LIMIT ?? 1e7);

function basePrimes(n: number): number[] {
  const sieve = new Uint8Array(n + 1);
  const out: number[] = [];
  for (let i = 2; i <= n; i++) {
    if (sieve[i]) continue;
    out.push(i);
    for (let j = i * i; j <= n; j += i) sieve[j] = 1;
  }
  return out;
}

export default defineJob({
  input: range(2, LIMIT),
  map({ start, end }) {
    const composite = new Uint8Array(end - start);
    for (const p of basePrimes(Math.floor(Math.sqrt(end)) + 1)) {
      if (p * p >= end) break;
      let j = Math.max(p * p, Math.ceil(start / p) * p);
      for (; j < end; j += p) composite[j - start] = 1;
    }
    let count = 0;
    for (let i = 0; i < composite.length; i++) if (!composite[i]) count++;
    return count;
  },
  reduce: (counts) => counts.reduce((a, b) => a + b, 0),
});
