/**
 * The object key layout, shared by the folder store and S3 so a run looks the same on both:
 *
 *   bundles/<sha256>.mjs                 job bundles, content-addressed
 *   inputs/<sha256>                      uploaded lines() inputs, content-addressed
 *   runs/<runId>/manifest.json           RunManifest
 *   runs/<runId>/payloads.jsonl          every chunk's ChunkSource, one line each
 *   runs/<runId>/results/<index>.json    ResultEnvelope of the attempt that succeeded
 *   runs/<runId>/failures/<index>.json   ResultEnvelope of the last failed attempt
 *   runs/<runId>/cancel/run              marker: the whole run is cancelled (workers stop their chunks)
 *   runs/<runId>/cancel/<index>-<attempt> marker: that attempt's result is no longer wanted
 *
 * The run's cancel marker sits inside cancel/ rather than at runs/<runId>/cancel, since the
 * folder store cannot hold a file and a folder of the same name.
 */
export const keys = {
  bundle: (sha256: string) => `bundles/${sha256}.mjs`,
  input: (sha256: string) => `inputs/${sha256}`,
  runPrefix: (runId: string) => `runs/${runId}/`,
  manifest: (runId: string) => `runs/${runId}/manifest.json`,
  payloads: (runId: string) => `runs/${runId}/payloads.jsonl`,
  resultsPrefix: (runId: string) => `runs/${runId}/results/`,
  result: (runId: string, index: number) => `runs/${runId}/results/${index}.json`,
  failuresPrefix: (runId: string) => `runs/${runId}/failures/`,
  failure: (runId: string, index: number) => `runs/${runId}/failures/${index}.json`,
  cancelPrefix: (runId: string) => `runs/${runId}/cancel/`,
  cancelRun: (runId: string) => `runs/${runId}/cancel/run`,
  cancelAttempt: (runId: string, index: number, attempt: number) => `runs/${runId}/cancel/${index}-${attempt}`,
};

/** The chunk index named by a results/ or failures/ key. */
export function indexOfKey(key: string): number {
  const m = /\/(\d+)\.json$/.exec(key);
  return m ? Number(m[1]) : -1;
}

const RUN_ID = /^[0-9]{8}T[0-9]{6}Z-[a-z0-9]{6}$/;

/** Sortable by time, unique enough for one bucket: 20261127T044612Z-k3j9xq */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const rand = Math.random().toString(36).slice(2, 8).padEnd(6, "0");
  return `${stamp}-${rand}`;
}

export function isRunId(s: string): boolean {
  return RUN_ID.test(s);
}
