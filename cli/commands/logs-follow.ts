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
  const follower = new Follower(store, runId, only);
  for (;;) {
    // Read the manifest first: whatever landed before a run ended is then read below.
    const ended = !isRunning(JSON.parse((await store.get(keys.manifest(runId))).toString("utf8")) as RunManifest);
    await follower.printLiveParts();
    await follower.printFinished();
    if (ended) return;
    await sleep(POLL_MS);
  }
}

function isRunning(m: RunManifest): boolean {
  return shownStatus(m) === "running";
}

/** One follow of a run's logs: what it has printed so far, per attempt and per finished chunk. */
class Follower {
  private readonly seen = new Map<string, Seen>();
  private readonly finished = new Set<number>();

  constructor(
    private readonly store: ObjectStore,
    private readonly runId: string,
    private readonly only: number | undefined,
  ) {}

  private print(index: number, lines: string[]): Promise<void> {
    return lines.length ? writeStdout(lines.map((l) => (this.only === undefined ? `[${index}] ${l}` : l)).join("\n") + "\n") : Promise.resolve();
  }

  private seenOf(index: number, attempt: number): Seen {
    const id = `${index}-${attempt}`;
    let s = this.seen.get(id);
    if (!s) this.seen.set(id, (s = { lines: 0, parts: new Set() }));
    return s;
  }

  /** Running chunks' new live parts, each once, in order. */
  async printLiveParts(): Promise<void> {
    const { store, runId, only } = this;
    const prefix = only === undefined ? keys.livePrefix(runId) : `${keys.livePrefix(runId)}${only}-`;
    for (const key of await store.list(prefix)) {
      const at = livePartOf(key);
      if (!at || this.finished.has(at.index)) continue;
      const s = this.seenOf(at.index, at.attempt);
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
      await this.print(at.index, part.lines);
    }
  }

  /** Chunks that finished since the last look: the lines their live parts did not carry, and their error. */
  async printFinished(): Promise<void> {
    const { store, runId, only } = this;
    const results = new RunResults(store, runId);
    const done = await results.done();
    const failed = (await store.list(keys.failuresPrefix(runId))).map(indexOfKey);
    for (const i of [...new Set([...done, ...failed])].sort((a, b) => a - b)) {
      if (this.finished.has(i) || (only !== undefined && i !== only)) continue;
      const env = done.has(i) ? await results.envelope(i) : (JSON.parse((await store.get(keys.failure(runId, i))).toString("utf8")) as ResultEnvelope);
      if (!env) continue;
      this.finished.add(i);
      const rest = env.logs.slice(this.seenOf(i, env.attempt).lines);
      if (env.error) rest.push(`error (${env.error.kind}): ${env.error.name}: ${env.error.message}`);
      await this.print(i, rest);
    }
  }
}
