// Are the baseline's and the run's results the same? Loaded with the run machinery (it
// brings the sequential baseline, hence esbuild), never at the CLI's start-up.
import { openStore } from "../compute/open.js";
import type { AwsOptions, BackendName } from "../options.js";
import type { RunResult } from "../run/types.js";
import { RunResults } from "../store/results.js";
import { deepEqual, firstDifference, type SequentialResult } from "./sequential.js";

/** What the run is compared against: the sequential map in this process, or a local run. */
export type Baseline = { kind: "sequential"; seq: SequentialResult } | { kind: "local"; run: RunResult };

/** true: deeply equal; false: different; undefined: not compared. `text` says which, for people. */
export interface Comparison {
  equal: boolean | undefined;
  text: string;
}

/** Where the run's results are stored, to read back chunk by chunk for a sampled baseline. */
export interface StoreWhere {
  cwd?: string;
  store?: string;
  aws?: AwsOptions;
}

export async function compareResults(baseline: Baseline, res: RunResult, backend: BackendName, where: StoreWhere): Promise<Comparison> {
  if (baseline.kind === "local") {
    const equal = deepEqual(baseline.run.result, res.result);
    return { equal, text: equal ? `results equal: the local and the ${backend} result are deeply equal` : `results DIFFER: ${firstDifference(baseline.run.result, res.result, "result")} (local vs ${backend})` };
  }
  if (baseline.seq.sampled) return compareSampledChunks(res.runId, baseline.seq, backend, where);
  const equal = deepEqual(baseline.seq.result, res.result);
  return { equal, text: equal ? "results equal: the sequential and the parallel result are deeply equal" : `results DIFFER: ${firstDifference(baseline.seq.result, res.result, "result")} (sequential vs ${backend})` };
}

/** With a sampled baseline there is no whole result to compare: compare the sampled chunks. */
async function compareSampledChunks(runId: string, seq: SequentialResult, backend: BackendName, where: StoreWhere): Promise<Comparison> {
  try {
    const st = await openStore({ backend, cwd: where.cwd ?? process.cwd(), ...(where.store ? { store: where.store } : {}), ...(where.aws ? { aws: where.aws } : {}) });
    try {
      const results = new RunResults(st.store, runId);
      for (const i of seq.ran) {
        const env = await results.envelope(i);
        if (!env) return { equal: undefined, text: `results not compared: the stored result of chunk ${i} is missing` };
        if (!deepEqual(seq.values[i], env.value)) {
          return { equal: false, text: `results DIFFER: ${firstDifference(seq.values[i], env.value, `chunk ${i}`)} (sequential vs ${backend})` };
        }
      }
      return { equal: true, text: `results equal for the ${seq.ran.length} sampled chunks (the whole result was not computed sequentially)` };
    } finally {
      await st.close();
    }
  } catch (err) {
    return { equal: undefined, text: `results not compared: ${(err as Error)?.message ?? String(err)}` };
  }
}
