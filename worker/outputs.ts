/**
 * A chunk attempt's `ctx.write`s: staged under the attempt's own prefix while it runs, then
 * committed to `<runId>/<chunk>/<name>` when it succeeds and is the first to claim the chunk,
 * or dropped. So exactly one successful attempt's set shows, whole; the client sweeps what a
 * killed attempt left staged.
 */
import pLimit from "p-limit";
import type { OutputBody } from "../src/job/index.js";
import { badOutputName, openOutput, outputKeys } from "../src/store/output.js";
import type { OutputSink } from "../src/store/output-sink.js";
import type { OutputRecord, Task } from "../src/types.js";

const sinks = new Map<string, Promise<OutputSink>>();
/** One sink per output location per process. */
function sinkFor(location: string): Promise<OutputSink> {
  let s = sinks.get(location);
  if (!s) sinks.set(location, (s = openOutput(location)));
  return s;
}

/** Moves at once when a chunk commits many outputs. */
const COMMIT_MOVES = 16;

export class ChunkOutputs {
  /** Name to bytes, for each finished write. */
  private readonly staged = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;
  /** FANOUT_TEST_DIE_AFTER_CLAIM, read while the chunk runs (inside its run's env; see dieAfterClaim). */
  private readonly dieAfterClaim = process.env.FANOUT_TEST_DIE_AFTER_CLAIM;

  constructor(private readonly task: Task) {}

  private stagedRel(name: string): string {
    return outputKeys.attempt(this.task.runId, this.task.index, this.task.attempt) + name;
  }

  write(name: string, body: OutputBody): Promise<number> {
    const location = this.task.output;
    if (!location) return Promise.reject(new Error("ctx.write needs an output: run with --output s3://bucket/prefix/ or --output ./folder (library: the output option)"));
    const bad = badOutputName(name);
    if (bad) return Promise.reject(new TypeError(`ctx.write(${JSON.stringify(name)}): ${bad}`));
    if (this.closed) return Promise.reject(new Error(`ctx.write("${name}") after the chunk ended`));
    const p = (async () => {
      const sink = await sinkFor(location);
      const bytes = await sink.write(this.stagedRel(name), body);
      // The attempt ended (failed, timed out) while this write was in flight: it must not stay.
      if (this.closed) {
        await sink.remove([this.stagedRel(name)]).catch(() => {});
        throw new Error(`ctx.write("${name}") finished after the chunk ended`);
      }
      this.staged.set(name, bytes);
      return bytes;
    })();
    this.pending.add(p);
    const forget = () => this.pending.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** The chunk succeeded: wait for its writes, then move each to its final key. A failed write fails the chunk. */
  async commit(): Promise<OutputRecord[]> {
    const results = await Promise.allSettled([...this.pending]);
    this.closed = true;
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      await this.dropStaged();
      throw (failed as PromiseRejectedResult).reason;
    }
    if (!this.staged.size) return [];
    const sink = await sinkFor(this.task.output!);
    const { runId, index, attempt } = this.task;
    const records: OutputRecord[] = [...this.staged].map(([name, bytes]) => ({ name, key: sink.keyOf(outputKeys.final(runId, index, name)), bytes }));
    // Two attempts can both succeed (a speculative copy and its original): the one that claims the chunk commits.
    const claim = outputKeys.claim(runId, index);
    const holders = await this.claimChunk(sink, claim, records);
    if (holders) return holders;
    await dieAfterClaim(this.dieAfterClaim, attempt);
    const limit = pLimit(COMMIT_MOVES);
    try {
      await Promise.all(records.map((r) => limit(() => sink.move(this.stagedRel(r.name), outputKeys.final(runId, index, r.name), r.bytes))));
    } catch (err) {
      // The chunk fails with this attempt: its retry must be free to commit.
      await sink.remove([claim]).catch(() => {});
      throw err;
    }
    return records;
  }

  /**
   * Claim the chunk for this attempt: undefined when it is ours, else the holder's outputs once
   * they are all committed (this attempt's staging then goes). A claim released while this
   * attempt waits (its holder died: see src/run/outputs.ts) is claimed again.
   */
  private async claimChunk(sink: OutputSink, claim: string, records: OutputRecord[]): Promise<OutputRecord[] | undefined> {
    const { runId, index, attempt } = this.task;
    const until = Date.now() + WINNER_WAIT_MS;
    try {
      // `at`: a resumed run's client releases a claim no worker can still hold (src/run/outputs.ts).
      while (!(await sink.claim(claim, JSON.stringify({ attempt, at: Date.now(), records })))) {
        const theirs = await holdersOutputs(sink, runId, index, until);
        if (theirs) {
          await this.dropStaged();
          return theirs;
        }
      }
      return undefined;
    } catch (err) {
      await this.dropStaged().catch(() => {});
      throw err;
    }
  }

  /** The chunk failed: what it staged goes (writes still in flight remove themselves). */
  async discard(): Promise<void> {
    this.closed = true;
    await this.dropStaged().catch(() => {});
  }

  private async dropStaged(): Promise<void> {
    if (!this.staged.size) return;
    const sink = await sinkFor(this.task.output!);
    await sink.remove([...this.staged.keys()].map((n) => this.stagedRel(n)));
    this.staged.clear();
  }
}

/** How long a losing attempt waits for the winner's moves to show before it gives up. */
const WINNER_WAIT_MS = 10_000;

/**
 * The outputs of the attempt that holds the chunk's claim, once every one is at its final key
 * with its size, or undefined once the claim is gone (released: claim it again). A holder still
 * moving is waited for until `until`; one that stays incomplete died after claiming, so this
 * attempt fails as transient and is retried: reporting outputs that are not there would lose
 * them silently.
 */
async function holdersOutputs(sink: OutputSink, runId: string, index: number, until: number): Promise<OutputRecord[] | undefined> {
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    const held = await sink.read(outputKeys.claim(runId, index));
    if (!held) return undefined;
    const { records } = JSON.parse(held.toString("utf8")) as { records: OutputRecord[] };
    const there = new Map((await sink.list(outputKeys.chunk(runId, index))).map((o) => [o.rel, o.size]));
    if (records.every((r) => there.get(outputKeys.final(runId, index, r.name)) === r.bytes)) return records;
    if (Date.now() + wait > until) {
      // EBUSY: classified transient (worker/classify.ts), so the executor retries the chunk.
      const fix = "if that attempt died with its client, `--resume` releases the claim (at once on the local backend, on Lambda once it is 15 minutes old)";
      throw Object.assign(new Error(`chunk ${index}'s outputs are claimed by another attempt that has not committed them; ${fix}`), { code: "EBUSY" });
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * Test setting FANOUT_TEST_DIE_AFTER_CLAIM=<attempt>: that attempt's worker process exits right
 * after writing its claim, before any move (as a Lambda hard timeout, an OOM or a killed process
 * would), so tests can prove its retry still commits. `<attempt>:stop` stops the attempt there
 * without exiting, claim kept, for a process that hosts more than the worker (the emulated
 * stack's serverless-offline); the test's Lambda proxy then reports the runtime's exit.
 * `<attempt>:hang` never lets the attempt go on, so a test can kill its client meanwhile.
 */
async function dieAfterClaim(setting: string | undefined, attempt: number): Promise<void> {
  if (setting === undefined) return;
  if (setting === String(attempt)) process.exit(137);
  if (setting === `${attempt}:stop`) throw new Error(`FANOUT_TEST_DIE_AFTER_CLAIM: attempt ${attempt} stopped after its claim`);
  if (setting === `${attempt}:hang`) await new Promise(() => {});
}
