/**
 * The commands a message suggests next (`fanout logs`, `fanout run --resume`): they must name
 * the same backend and store as the run, or they look in the wrong place and fail.
 */

/** How to reach a run again from the CLI. `jobPath` is absent for `map()` runs. */
export interface RunRef {
  runId: string;
  jobPath?: string;
  /** ` --backend emulated --store out` or "": the flags that find the run's store. */
  flags?: string;
}

/** Quote a word for a POSIX shell when it needs it. */
function shellArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The flags that point a follow-up command at the run's backend and store (defaults omitted). */
export function followUpFlags(backend: string, store: string | undefined): string {
  let out = backend === "local" ? "" : ` --backend ${shellArg(backend)}`;
  // The folder store matters where chunks' results live in it; S3 is found from the stack.
  if (store && store !== ".fanout" && backend !== "aws") out += ` --store ${shellArg(store)}`;
  return out;
}

export function resumeCmd(ref: RunRef, rebuild = false): string {
  const job = ref.jobPath ? `fanout run ${shellArg(ref.jobPath)} ` : "fanout run <job> ";
  return `${job}--resume ${ref.runId}${rebuild ? " --rebuild" : ""}${ref.flags ?? ""}`;
}

export function logsCmd(ref: RunRef, index?: number): string {
  return `fanout logs ${ref.runId}${index === undefined ? "" : ` ${index}`}${ref.flags ?? ""}`;
}

export function statusCmd(ref: RunRef): string {
  return `fanout status ${ref.runId}${ref.flags ?? ""}`;
}

export function attachCmd(ref: RunRef): string {
  return `fanout attach ${ref.runId}${ref.flags ?? ""}`;
}
