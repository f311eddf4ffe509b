/**
 * A detached run's attempt log in the store: each driver generation writes its own
 * `runs/<id>/attempts/<generation>.jsonl` (its figures on the first line, then one attempt
 * record a line) when it starts and when it stops, so the run's summary and report can be the
 * whole run's, however many generations drove it.
 */
import type { ExecuteOutcome } from "../exec/executor.js";
import { keys } from "../store/keys.js";
import { RunResults } from "../store/results.js";
import type { ObjectStore } from "../store/types.js";
import type { AttemptRecord, RunManifest } from "../types.js";
import { attemptFromEnvelope, unrecordedWins, wholeRun, withoutHandover, type GenerationLog } from "./summary.js";

/** Write (or rewrite) one generation's log. */
export async function writeGenerationLog(store: ObjectStore, runId: string, log: GenerationLog): Promise<void> {
  const { attempts, ...head } = log;
  const lines = [head, ...attempts].map((x) => JSON.stringify(x));
  await store.put(keys.attempts(runId, log.generation), lines.join("\n") + "\n");
}

/** Every generation's log of the run, oldest first. */
async function readGenerationLogs(store: ObjectStore, runId: string): Promise<GenerationLog[]> {
  const logs: GenerationLog[] = [];
  for (const key of await store.list(keys.attemptsPrefix(runId))) {
    const body = await store.getIfExists(key);
    if (!body) continue;
    const [head, ...rest] = body.toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as unknown);
    logs.push({ ...(head as Omit<GenerationLog, "attempts">), attempts: rest as AttemptRecord[] });
  }
  return logs.sort((a, b) => a.generation - b.generation);
}

/** The winning attempts no log holds (their generation died first), rebuilt from the stored results. */
async function unloggedWinners(store: ObjectStore, runId: string, logs: readonly GenerationLog[]): Promise<AttemptRecord[]> {
  const results = new RunResults(store, runId);
  const out: AttemptRecord[] = [];
  for (const index of unrecordedWins(logs)) {
    const e = await results.envelope(index);
    if (e) out.push(attemptFromEnvelope(e));
  }
  return out;
}

/** All the attempts of a detached run, as its logs hold them (empty for a run without logs). */
export async function runAttempts(store: ObjectStore, runId: string): Promise<AttemptRecord[]> {
  return (await readGenerationLogs(store, runId)).flatMap((l) => l.attempts);
}

/**
 * A driver generation stopping (handing over, or `ending` the run): writes its log (without
 * what its handover stopped), with the winners of generations that died unlogged when the run ends, and gives the whole run's
 * outcome, its skipped chunks and its start (the manifest's creation, as a client's run).
 */
export async function closeGeneration(store: ObjectStore, manifest: RunManifest, generation: GenerationLog, last: ExecuteOutcome, ending: boolean): Promise<ReturnType<typeof wholeRun>> {
  const own = ending ? generation : withoutHandover(generation);
  const logs = [...(await readGenerationLogs(store, manifest.runId)).filter((l) => l.generation !== own.generation), own];
  if (ending) own.attempts = [...own.attempts, ...(await unloggedWinners(store, manifest.runId, logs))];
  await writeGenerationLog(store, manifest.runId, own);
  const whole = wholeRun(logs, last);
  const created = Date.parse(manifest.createdAt);
  return { ...whole, startedAt: Number.isFinite(created) ? Math.min(created, whole.startedAt) : whole.startedAt };
}
