// `fanout logs -f`: follow a run's chunk output in the store until the run ends. Running chunks'
// lines come from their live log parts; a finished chunk's remaining lines from its result.
import { setTimeout as sleep } from "node:timers/promises";
import { shownStatus } from "../../src/run/liveness.js";
import { indexOfKey, keys, livePartOf } from "../../src/store/keys.js";
import { RunResults } from "../../src/store/results.js";
import type { ObjectStore } from "../../src/store/types.js";
import type { LivePart, ResultEnvelope, RunManifest } from "../../src/types.js";
import { writeStdout } from "../common.js";

/** How often the store is looked at. */
const POLL_MS = 500;

/** Per attempt ("index-attempt"): lines printed, and live parts already read. */
interface Seen {
  lines: number;
  parts: Set<string>;
  /** A part was gone when read: the worker stored the outcome and removed them, so the rest comes from it. */
  gone?: boolean;
}

/** Print each line of the run's chunks (or of chunk `only`) once, as it lands, until the run ends. */
export async function followLogs(store: ObjectStore, runId: string, only: number | undefined): Promise<void> {
  const seen = new Map<string, Seen>();
  const finished = new Set<number>();
  const print = (index: number, lines: string[]) =>
    lines.length ? writeStdout(lines.map((l) => (only === undefined ? `[${index}] ${l}` : l)).join("\n") + "\n") : Promise.resolve();
  for (;;) {
    // Read the manifest first: whatever landed before a run ended is then read below.
    const ended = !isRunning(JSON.parse((await store.get(keys.manifest(runId))).toString("utf8")) as RunManifest);
    await printLiveParts(store, runId, only, seen, finished, print);
    await printFinished(store, runId, only, seen, finished, print);
    if (ended) return;
    await sleep(POLL_MS);
  }
}

function isRunning(m: RunManifest): boolean {
  return shownStatus(m) === "running";
}

const seenOf = (seen: Map<string, Seen>, index: number, attempt: number): Seen => {
  const id = `${index}-${attempt}`;
  let s = seen.get(id);
  if (!s) seen.set(id, (s = { lines: 0, parts: new Set() }));
  return s;
};

async function printLiveParts(
  store: ObjectStore,
  runId: string,
  only: number | undefined,
  seen: Map<string, Seen>,
  finished: Set<number>,
  print: (index: number, lines: string[]) => Promise<void>,
): Promise<void> {
  const prefix = only === undefined ? keys.livePrefix(runId) : `${keys.livePrefix(runId)}${only}-`;
  for (const key of await store.list(prefix)) {
    const at = livePartOf(key);
    if (!at || finished.has(at.index)) continue;
    const s = seenOf(seen, at.index, at.attempt);
    if (s.gone || s.parts.has(key)) continue;
    const body = await store.getIfExists(key);
    // Parts are read in order, so the lines printed stay a prefix of the outcome's.
    if (!body) {
      s.gone = true;
      continue;
    }
    const part = JSON.parse(body.toString("utf8")) as LivePart;
    s.parts.add(key);
    s.lines += part.lines.length;
    await print(at.index, part.lines);
  }
}

/** Chunks that finished since the last look: the lines their live parts did not carry, and their error. */
async function printFinished(
  store: ObjectStore,
  runId: string,
  only: number | undefined,
  seen: Map<string, Seen>,
  finished: Set<number>,
  print: (index: number, lines: string[]) => Promise<void>,
): Promise<void> {
  const results = new RunResults(store, runId);
  const done = await results.done();
  const failed = (await store.list(keys.failuresPrefix(runId))).map(indexOfKey);
  for (const i of [...new Set([...done, ...failed])].sort((a, b) => a - b)) {
    if (finished.has(i) || (only !== undefined && i !== only)) continue;
    const env = done.has(i) ? await results.envelope(i) : (JSON.parse((await store.get(keys.failure(runId, i))).toString("utf8")) as ResultEnvelope);
    if (!env) continue;
    finished.add(i);
    const rest = env.logs.slice(seenOf(seen, i, env.attempt).lines);
    if (env.error) rest.push(`error (${env.error.kind}): ${env.error.name}: ${env.error.message}`);
    await print(i, rest);
  }
}
