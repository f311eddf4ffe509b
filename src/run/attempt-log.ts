/**
 * A detached run's attempt log in the store: each driver generation writes its own
 * `runs/<id>/attempts/<generation>.jsonl` (its figures on the first line, then one attempt
 * record a line) when it starts, after setbacks and when it stops, so the run's summary and
 * report can be the whole run's, however many generations drove it.
 */
import type { ExecuteOutcome } from "../exec/types.js";
import { keys } from "../store/keys.js";
import { RunResults } from "../store/results.js";
import type { ObjectStore } from "../store/types.js";
import type { AttemptRecord, RunManifest } from "../types.js";
import { attemptFromEnvelope, generationLog, unrecordedWins, wholeRun, withoutHandover, type GenerationLog } from "./summary.js";

/** Write (or rewrite) one generation's log. */
export async function writeGenerationLog(store: ObjectStore, runId: string, log: GenerationLog): Promise<void> {
  const { attempts, ...head } = log;
  const lines = [head, ...attempts].map((x) => JSON.stringify(x));
  await store.put(keys.attempts(runId, log.generation), lines.join("\n") + "\n");
}

/**
 * How soon after a setback a running generation writes its log: setbacks come in bursts (a
 * storm of 429s), one write serves a burst, and a log of many attempts waits longer, so that
 * writing it takes at most a twentieth of the driver's time.
 */
const CHECKPOINT_MS = 1000;
const CHECKPOINT_SHARE = 20;

/**
 * While a generation runs: after a setback (see ExecuteParams.onSetback) its log so far is
 * written, so a driver that dies keeps its retries and failed attempts in the whole run's
 * summary. Its wins need no checkpoint: the run's end rebuilds them from the stored results.
 */
export function checkpointGeneration(store: ObjectStore, runId: string, generation: number, startedAt: number, done: Iterable<number>): { onSetback(sofar: Readonly<ExecuteOutcome>): void; stop(): Promise<void> } {
  const before = [...done];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let sofar: Readonly<ExecuteOutcome> | undefined;
  let lastWriteMs = 0;
  const writeNow = async () => {
    const o = sofar!;
    // Attempts still in flight have no outcome yet: the next checkpoint, or the generation's end, has them.
    const snapshot = { ...o, attempts: o.attempts.filter((a) => a.returnedAt > 0) } as ExecuteOutcome;
    const t0 = Date.now();
    await writeGenerationLog(store, runId, generationLog(generation, startedAt, before, snapshot)).catch(() => {});
    lastWriteMs = Date.now() - t0;
  };
  const write = () => {
    timer = undefined;
    // One write at a time: a later snapshot never lands before an earlier one.
    writing = (writing ?? Promise.resolve()).then(writeNow);
  };
  return {
    onSetback(o) {
      sofar = o;
      timer ??= setTimeout(write, Math.max(CHECKPOINT_MS, CHECKPOINT_SHARE * lastWriteMs));
    },
    async stop() {
      clearTimeout(timer);
      timer = undefined;
      await writing;
    },
  };
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
