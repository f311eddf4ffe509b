import type { AttemptRecord } from "../types.js";
import { quantile } from "../util/stats.js";

/**
 * When to copy a straggler: a chunk whose attempt has been out far longer than the median
 * finished chunk. Both sides are client round trips (invoke to reply), for every backend:
 * on Lambda a round trip holds the network, cold start, bundle and payload fetch and result
 * PUT, which worker-side map time leaves out, so comparing the two made every short chunk
 * look slow.
 */
export interface SpeculationSettings {
  /** A chunk is a straggler once it has run this many times the median chunk time... */
  factor: number;
  /** ...and at least this much longer than the median: tiny chunks, whose replies wait a few ms for batched writes, would otherwise look slow. */
  floorMs: number;
  /** Finished chunks needed before the median means anything. */
  minSamples: number;
  /** Speculative copies allowed in flight at once. */
  maxInFlight: number;
  /** How often to look for stragglers. */
  intervalMs: number;
}

export function defaultSpeculationSettings(chunks: number, concurrency: number): SpeculationSettings {
  return {
    factor: 2,
    floorMs: 100,
    minSamples: Math.max(3, Math.ceil(chunks * 0.1)),
    maxInFlight: Math.max(1, Math.ceil(concurrency * 0.1)),
    intervalMs: 50,
  };
}

/** What the detector needs to see of a chunk with attempts in flight. */
export interface StragglerCandidate {
  done: boolean;
  /** A chunk is copied at most once. */
  speculatedOnce: boolean;
  /** `invokedAt`: client time (epoch ms) at which the attempt was handed to the backend. */
  running: readonly { invokedAt: number }[];
}

/** Round trips of finished chunks' winning attempts: a bounded reservoir keeps the median cheap for runs of 100,000 chunks. */
export class FinishedTimes {
  count = 0;
  readonly samples: number[] = [];
  add(roundTripMs: number): void {
    this.count++;
    if (this.samples.length < 1000) this.samples.push(roundTripMs);
    else this.samples[Math.floor(Math.random() * this.samples.length)] = roundTripMs;
  }
}

/** Which chunks to copy now. Pure: the caller marks them speculatedOnce and launches the copies. */
export function pickStragglers<C extends StragglerCandidate>(
  live: Iterable<C>,
  finished: { count: number; samples: readonly number[] },
  copiesInFlight: number,
  now: number,
  settings: SpeculationSettings,
): C[] {
  const picked: C[] = [];
  if (finished.count < settings.minSamples || copiesInFlight >= settings.maxInFlight) return picked;
  const median = quantile(finished.samples, 0.5);
  const threshold = Math.max(settings.factor * median, median + settings.floorMs);
  for (const chunk of live) {
    if (chunk.done || chunk.speculatedOnce || chunk.running.length !== 1) continue;
    if (now - chunk.running[0]!.invokedAt < threshold) continue;
    picked.push(chunk);
    if (copiesInFlight + picked.length >= settings.maxInFlight) break;
  }
  return picked;
}

/** Looks for stragglers every intervalMs and hands each to `copy`; returns the function that stops it. */
export function watchForStragglers<C extends StragglerCandidate>(w: {
  settings: SpeculationSettings;
  live: Iterable<C>;
  finished: FinishedTimes;
  copiesInFlight: () => number;
  stopped: () => boolean;
  copy: (chunk: C) => void;
}): () => void {
  const timer = setInterval(() => {
    if (w.stopped()) return;
    for (const chunk of pickStragglers(w.live, w.finished, w.copiesInFlight(), Date.now(), w.settings)) {
      chunk.speculatedOnce = true;
      w.copy(chunk);
    }
  }, w.settings.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** What speculation cost: copies made, copies that won, and client time of copies that did not win. */
export function copyCost(attempts: readonly AttemptRecord[]): { copies: number; won: number; lostMs: number } {
  let copies = 0;
  let won = 0;
  let lostMs = 0;
  for (const a of attempts) {
    if (!a.speculative) continue;
    copies++;
    if (a.won) won++;
    // A copy cancelled on the client may run on (and bill) on Lambda; the client's view is a floor.
    else if (a.returnedAt > 0) lostMs += a.returnedAt - a.invokedAt;
  }
  return { copies, won, lostMs };
}
