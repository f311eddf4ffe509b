import type { Job } from "../job/index.js";
import type { CommonOptions, MaxFailures } from "../options.js";
import type { AttemptRecord, RunSummary } from "../types.js";

/** Options of `run`: the common ones, the number of chunks, and resuming a run. */
export interface RunOptions extends CommonOptions {
  chunks?: number;
  /** Continue this run: only chunks without a stored result are run again. */
  resume?: string;
  /**
   * With `resume`: run the missing and failed chunks with the job as it is now, though its
   * build changed (a fixed bug). Finished results are kept; the input and chunk plan must not change.
   */
  rebuild?: boolean;
  /**
   * Let the run finish when at most this many chunks fail for good (a number, or a share of
   * the chunks such as "1%"): its status is then `partial`, `summary.failedChunks` lists the
   * failures, and reduce sees `undefined` in their places. A later `resume` runs only those.
   * Without it, the run fails once any chunk fails (dispatch stops after 10 failures).
   */
  maxFailures?: MaxFailures;
  /**
   * Where `ctx.write` puts objects: `s3://bucket/prefix/` (any backend), or a folder (the
   * local backend). Each chunk's writes land at `<output>/<runId>/<chunk>/<name>`, and only
   * if the chunk succeeds. `summary.output` counts them.
   */
  output?: string;
  /** Use this finished run's results as the input, one item per chunk result (as the job's `fromRun(runId)`). */
  inputRun?: string;
}

/** What `run` returns: the reduced result, the run's summary, and every attempt. */
export interface RunResult<O = unknown> {
  runId: string;
  result: O;
  summary: RunSummary;
  /** Every attempt at every chunk, for timelines and reports. */
  attempts: AttemptRecord[];
}

/** The output type of a job module's default export. */
// The chunk and result types do not matter here; `any` lets any job's map match.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JobOutput<J> = J extends Job<any, any, infer O> ? O : unknown;

/** Options of `map` and `mapIter`: the common ones, and where `ctx.write` puts objects. */
export interface MapOptions extends CommonOptions {
  /**
   * Where `ctx.write` puts objects, as run's `output`: `s3://bucket/prefix/` (any backend), or
   * a folder (the local backend). Each input's writes land at `<output>/<runId>/<index>/<name>`,
   * and only if its call succeeds; `mapIter`'s summary counts them in `output`.
   */
  output?: string;
}

/** One result of `mapIter`: the input's index and the function's value for it. */
export interface MapItem<R> {
  index: number;
  value: R;
}
