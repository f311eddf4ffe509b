/**
 * A detached run's driver inside the worker function (AWS, or the emulated stack): invoked
 * asynchronously with a DriverEvent, it claims the run's lease for the event's generation,
 * runs fanout's own executor from the manifest and payloads (invoking chunks as the client
 * does), and before the invocation's deadline stops dispatching, waits for its chunks in
 * flight, hands the lease to the next generation and invokes it (Event). The store holds
 * everything a successor needs: results, failures, the manifest and the lease.
 */
import { awaitStoredOutcome } from "../compute/aws/stored-outcome.js";
import type { Backend } from "../compute/types.js";
import { FanoutError } from "../errors.js";
import { sourcesFromPayloads } from "../plan/plan.js";
import type { ObjectStore } from "../store/types.js";
import type { DriverEvent, Task } from "../types.js";
import { followUpFlags, type RunRef } from "../util/follow-up.js";
import { DrainingBackend } from "./drain.js";
import { executeRun } from "./execute.js";
import { claimedBy, claimLease, LEASE_BEAT_MS, type InFlightChunk, type Lease } from "./lease.js";
import { readManifest } from "./manifest.js";

/** What the function gives its driver: the run's store, its chunks' backend, the next driver's invoke, its clock. */
export interface RemoteDriverHost {
  store: ObjectStore;
  /** The backend that invokes chunks (RequestResponse), as the client's would; `name` is the run's backend. */
  openBackend(name: "aws" | "emulated", memoryMb: number, concurrency: number): Backend;
  /** Invoke the function with the next driver's event (Event). */
  invokeNext(event: DriverEvent): Promise<void>;
  /** Lambda's context.getRemainingTimeInMillis(). */
  remainingMs(): number;
  log(line: string): void;
}

/** How a driver invocation ended. */
export type DriverEnd = "finished" | "handed-over" | "refused" | "not-running" | "died";

/** Left for the handover itself (lease, manifest, the next invoke) after the drain. */
const HANDOVER_MARGIN_MS = 15_000;

/** When to stop dispatching and when to give up on chunks still in flight, from now (ms). */
function handoverTimes(remainingMs: number, chunkTimeoutMs: number, handoverMs?: number): { drainAt: number; abandonAt: number } {
  const usable = Math.max(0, remainingMs - HANDOVER_MARGIN_MS);
  // Room for a whole chunk to finish after the last dispatch, but never more than half the invocation.
  const drainAt = Math.min(handoverMs ?? Infinity, Math.max(0, usable - Math.min(chunkTimeoutMs, usable / 2)));
  return { drainAt, abandonAt: usable };
}

/**
 * A driver that took over from a dead one waits for the chunks that one had in flight (they
 * run on in Lambda and will write their outcome) until each is done or surely over, so none
 * is started twice.
 */
async function awaitOrphans(store: ObjectStore, orphans: InFlightChunk[], runId: string, signal: AbortSignal, log: (l: string) => void): Promise<void> {
  if (orphans.length === 0) return;
  log(`fanout driver: run ${runId}: waiting for ${orphans.length} chunk(s) the previous driver left in flight`);
  await Promise.all(orphans.map((o) => awaitStoredOutcome(store, { runId, index: o.index, attempt: o.attempt } as Task, o.until, signal)));
}

/** Drive run `e.runId` as generation `e.generation` until it ends or this invocation must hand over. */
export async function driveRemote(e: DriverEvent["driver"], host: RemoteDriverHost): Promise<DriverEnd> {
  const { store } = host;
  const manifest = await readManifest(store, e.runId);
  if (manifest.status !== "running") return "not-running";
  const ref: RunRef = { runId: e.runId, flags: followUpFlags(manifest.backend, undefined) };
  const taken = new AbortController();
  const lease = await claim(e, host, ref, () => taken.abort(new Error("another driver took the run over")));
  if (!lease) return "refused";
  const inner = host.openBackend(manifest.backend === "emulated" ? "emulated" : "aws", manifest.options.memoryMb, manifest.options.concurrency);
  const compute = new DrainingBackend(inner, (chunks) => lease.note(chunks));
  const handover = new AbortController();
  const { drainAt, abandonAt } = handoverTimes(host.remainingMs(), manifest.options.timeoutMs, e.handoverMs);
  const timers = [
    setTimeout(() => void compute.drain().then(() => handover.abort()), drainAt),
    setTimeout(() => handover.abort(), abandonAt),
  ];
  // Test setting: the driver's container dies here (it stops, writing nothing more).
  if (e.dieAfterMs) timers.push(setTimeout(() => (lease.die(), taken.abort(new Error("the driver died (test setting)"))), e.dieAfterMs));
  let threw = false;
  try {
    await awaitOrphans(store, lease.orphans, e.runId, taken.signal, host.log);
    const sources = sourcesFromPayloads(await store.get(manifest.payloadsKey), manifest.payloadsKey);
    await executeRun({
      store,
      backend: compute,
      manifest,
      sources,
      reduce: undefined,
      t0: Date.now(),
      options: { resume: e.runId },
      collect: false,
      remote: { lease, handover: AbortSignal.any([handover.signal, taken.signal]) },
    });
  } catch (err) {
    // The run's end (failed, aborted, taken over) is in its manifest; the function's log keeps the line.
    threw = true;
    host.log(`fanout driver: run ${e.runId}: ${(err as Error).message}`);
  } finally {
    for (const t of timers) clearTimeout(t);
    await compute.close();
  }
  if (e.dieAfterMs && taken.signal.aborted && lease.lost) return "died";
  // An error that left the run unfinished is not handed on (it would loop); `fanout attach` restarts a driver.
  if (manifest.status !== "running" || lease.lost || threw) {
    await lease.release();
    return "finished";
  }
  await handOn(e, lease, host);
  return "handed-over";
}

/** Claim the lease for the event's generation; undefined (logged) when the lease refuses it. */
async function claim(e: DriverEvent["driver"], host: RemoteDriverHost, ref: RunRef, onLost: () => void): Promise<Lease | undefined> {
  // A test's short handover (or death) also beats faster, so a lost driver is noticed in seconds.
  const testMs = e.handoverMs ?? e.dieAfterMs;
  const beatMs = testMs ? Math.min(LEASE_BEAT_MS, Math.max(250, testMs / 2)) : LEASE_BEAT_MS;
  try {
    return await claimLease(host.store, ref, e.generation, onLost, beatMs);
  } catch (err) {
    if (!(err instanceof FanoutError)) throw err;
    host.log(`fanout driver: ${err.message}`);
    return undefined;
  }
}

/**
 * Leave the lease to the next generation and invoke it (Event); invite it again while it has
 * not claimed the run. Lambda may lose an async event (AWS, "How Lambda handles errors and
 * retries with asynchronous invocation": if the function cannot keep up, "events might also be
 * deleted from the queue without being sent to the function"), and nothing else would start
 * the run's next driver but a `fanout attach`. A repeated invitation is safe: once one
 * delivery has claimed its generation, the lease refuses every other.
 */
async function handOn(e: DriverEvent["driver"], lease: Lease, host: RemoteDriverHost): Promise<void> {
  const next: DriverEvent = { driver: { ...e, generation: e.generation + 1 } };
  await lease.handOver(next.driver.generation);
  for (let sent = 1; ; sent++) {
    await host.invokeNext(next);
    host.log(`fanout driver: run ${e.runId}: generation ${e.generation} handed over to ${next.driver.generation}${sent > 1 ? ` (invitation ${sent})` : ""}`);
    if (sent >= INVITATIONS || (await successorClaimed(host, e.runId, next.driver.generation, lease.beatMs))) return;
  }
}

/** Invitations to the next generation in all. */
const INVITATIONS = 3;
/**
 * How long to wait for the next generation's claim before inviting it again: it claims within a
 * second when delivered, and two beats keep the invitations ahead of the lease going stale
 * (four beats), when `fanout attach` would start a driver of its own.
 */
const CLAIM_WAIT_MS = 8_000;
/** Kept back from the invocation's deadline while waiting. */
const DEADLINE_MARGIN_MS = 3_000;

/** Wait (within this invocation's time) for generation `generation` to claim the run. */
async function successorClaimed(host: RemoteDriverHost, runId: string, generation: number, beatMs: number): Promise<boolean> {
  const until = Date.now() + Math.min(CLAIM_WAIT_MS, 2 * beatMs, host.remainingMs() - DEADLINE_MARGIN_MS);
  for (;;) {
    // A failed read is an unknown: wait on, and invite again at worst (the lease refuses doubles).
    if (await claimedBy(host.store, runId, generation).catch(() => false)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}
