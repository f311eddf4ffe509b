/** Reading chunk values back from the store, in chunk order. */
import pLimit from "p-limit";
import { FanoutError } from "../errors.js";
import type { RunResults } from "../store/results.js";
import { retrying } from "../store/retrying.js";

/** A stored result's value, read from the store (with retries); a missing one is an error. */
export async function readValue(results: RunResults, index: number): Promise<unknown> {
  const env = await retrying(() => results.envelope(index));
  if (!env) throw new FanoutError("E_RESULT_MISSING", `the result of chunk ${index} is missing from the store`, { hint: "resume the run to compute it again" });
  return env.value;
}

/** Read the stored values of chunks `indices` into `values`. */
async function readValuesInto(results: RunResults, indices: number[], values: unknown[]): Promise<void> {
  // Bounded parallel reads: S3 latency adds up over thousands of resumed results. (Each read
  // is a network call, so p-limit's few microseconds per task do not matter here.)
  const limit = pLimit(32);
  await Promise.all(indices.map((i) => limit(async () => (values[i] = await readValue(results, i)))));
}

/**
 * Every chunk's value in chunk order: those that came back in replies, the rest read from the
 * store; chunks in `failed` (a partial run) stay `undefined`.
 */
export async function valuesInOrder(results: RunResults, chunks: number, replied: ReadonlyMap<number, unknown>, failed: ReadonlySet<number> = new Set()): Promise<unknown[]> {
  // Filled, not holes: a reduce's map or flatMap would skip a hole where a gap should show.
  const values = new Array<unknown>(chunks).fill(undefined);
  for (const [index, value] of replied) values[index] = value;
  const toRead: number[] = [];
  for (let i = 0; i < chunks; i++) if (!replied.has(i) && !failed.has(i)) toRead.push(i);
  await readValuesInto(results, toRead, values);
  return values;
}
