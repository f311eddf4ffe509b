import { quantile } from "../util/stats.js";

/** When to copy a straggler: a chunk that has run far longer than the median finished chunk. */
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
  /** `startSeen`: client time at which the worker reported the attempt started; undefined while queued. */
  running: readonly { startSeen?: number | undefined }[];
}

/** Run times of finished chunks: a bounded reservoir keeps the median cheap for runs of 100,000 chunks. */
export class FinishedTimes {
  count = 0;
  readonly samples: number[] = [];
  add(runMs: number): void {
    this.count++;
    if (this.samples.length < 1000) this.samples.push(runMs);
    else this.samples[Math.floor(Math.random() * this.samples.length)] = runMs;
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
    const startSeen = chunk.running[0]!.startSeen;
    if (startSeen === undefined || now - startSeen < threshold) continue;
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
