/**
 * The object key layout, shared by the folder store and S3 so a run looks the same on both:
 *
 *   bundles/<sha256>.mjs                 job bundles, content-addressed
 *   bundles/deps-<sha256>.gz             a bundle's external packages installed for the function's
 *                                        platform, named by the sha256 of the unzipped stream (beside
 *                                        the bundles, so gc and teardown treat it as one of them)
 *   inputs/<sha256>                      uploaded lines() inputs, content-addressed
 *   runs/<runId>/manifest.json           RunManifest
 *   runs/<runId>/payloads.jsonl          every chunk's ChunkSource, one line each
 *   runs/<runId>/results/<index>.json    ResultEnvelope of the attempt that succeeded
 *   runs/<runId>/failures/<index>.json   ResultEnvelope of the last failed attempt
 *   runs/<runId>/live/<index>-<attempt>/<part>.json  a running attempt's new log lines and progress,
 *                                        one numbered part per flush (S3 cannot append)
 *   runs/<runId>/lease                   the run's driver: generation and heartbeat (one driver per run)
 *   runs/<runId>/driver.log              stdout and stderr of a detached run's driver process
 *   runs/<runId>/attempts/<gen>.jsonl    a detached run's driver generation: its figures, then its attempt records
 *   runs/<runId>/cancel/run              marker: the whole run is cancelled (workers stop their chunks)
 *   runs/<runId>/cancel/<index>-<attempt> marker: that attempt's result is no longer wanted
 *
 * The run's cancel marker sits inside cancel/ rather than at runs/<runId>/cancel, since the
 * folder store cannot hold a file and a folder of the same name.
 */
export const keys = {
  bundle: (sha256: string) => `bundles/${sha256}.mjs`,
  deps: (sha256: string) => `bundles/deps-${sha256}.gz`,
  input: (sha256: string) => `inputs/${sha256}`,
  runPrefix: (runId: string) => `runs/${runId}/`,
  manifest: (runId: string) => `runs/${runId}/manifest.json`,
  payloads: (runId: string) => `runs/${runId}/payloads.jsonl`,
  resultsPrefix: (runId: string) => `runs/${runId}/results/`,
  result: (runId: string, index: number) => `runs/${runId}/results/${index}.json`,
  failuresPrefix: (runId: string) => `runs/${runId}/failures/`,
  failure: (runId: string, index: number) => `runs/${runId}/failures/${index}.json`,
  livePrefix: (runId: string) => `runs/${runId}/live/`,
  /** Parts are zero-padded so that listing returns them in order. */
  livePart: (runId: string, index: number, attempt: number, part: number) => `runs/${runId}/live/${index}-${attempt}/${String(part).padStart(6, "0")}.json`,
  lease: (runId: string) => `runs/${runId}/lease`,
  driverLog: (runId: string) => `runs/${runId}/driver.log`,
  attemptsPrefix: (runId: string) => `runs/${runId}/attempts/`,
  attempts: (runId: string, generation: number) => `runs/${runId}/attempts/${generation}.jsonl`,
  cancelPrefix: (runId: string) => `runs/${runId}/cancel/`,
  cancelRun: (runId: string) => `runs/${runId}/cancel/run`,
  cancelAttempt: (runId: string, index: number, attempt: number) => `runs/${runId}/cancel/${index}-${attempt}`,
};

/** The chunk index, attempt and part number named by a live log part's key. */
export function livePartOf(key: string): { index: number; attempt: number; part: number } | undefined {
  const m = /\/live\/(\d+)-(\d+)\/(\d+)\.json$/.exec(key);
  return m ? { index: Number(m[1]), attempt: Number(m[2]), part: Number(m[3]) } : undefined;
}

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
