import { fileURLToPath } from "node:url";
import type { RunSummary } from "../types.js";
import { executeRun } from "./execute.js";
import { prepareMap, prepareRun } from "./prepare.js";
import type { MapItem, MapOptions, RunOptions, RunResult } from "./types.js";

/**
 * Run a job module: bundle it, split its input into chunks, run one worker invocation per
 * chunk on the chosen backend, reduce, and return the result with the run's summary.
 */
export async function run<O = unknown>(job: string | URL, options: RunOptions = {}): Promise<RunResult<O>> {
  const t0 = Date.now();
  const prepared = await prepareRun(typeof job === "string" ? job : fileURLToPath(job), options);
  try {
    return await executeRun<O>({ ...prepared, t0, options });
  } finally {
    await prepared.close();
  }
}

/**
 * Call one exported function of a module once per input, on the chosen backend, and return
 * the results in input order. The function gets `(input, ctx)` like a job's map.
 */
export async function map<I, R>(
  module: string | URL,
  exportName: string,
  inputs: readonly I[],
  options: MapOptions = {},
): Promise<Awaited<R>[]> {
  const results = new Array<Awaited<R>>(inputs.length);
  for await (const r of mapIter<I, R>(module, exportName, inputs, options)) results[r.index] = r.value;
  return results;
}

/** Like `map`, but yields each result as soon as it is finished (not in input order). */
export async function* mapIter<I, R>(
  module: string | URL,
  exportName: string,
  inputs: readonly I[],
  options: MapOptions = {},
): AsyncGenerator<MapItem<Awaited<R>>, RunSummary, undefined> {
  const t0 = Date.now();
  const prepared = await prepareMap(typeof module === "string" ? module : fileURLToPath(module), exportName, inputs, options);
  try {
    // Results are handed from the executor's callback to this generator through a queue.
    const queue: MapItem<Awaited<R>>[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    const pending = executeRun<unknown>({
      ...prepared,
      t0,
      options,
      onValue: (index, value) => {
        queue.push({ index, value: value as Awaited<R> });
        wake?.();
      },
    }).finally(() => {
      finished = true;
      wake?.();
    });
    pending.catch(() => {});
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    while (queue.length) yield queue.shift()!;
    return (await pending).summary;
  } finally {
    await prepared.close();
  }
}
