/**
 * How much memory a chunk's worker held: process.memoryUsage sampled every 100 ms while a
 * chunk that waits is running, and on Linux the kernel's high-water mark (VmHWM in
 * /proc/self/status), which catches a peak between two samples. Readings are shared by the
 * process and at most 100 ms old, so a chunk that returns at once costs no system call of
 * its own. RSS is the process's: chunks that overlap in one process share their figures.
 */
import { readFileSync } from "node:fs";
import type { PeakMemory } from "../src/types.js";

const SAMPLE_MS = 100;
const MB = 1024 * 1024;

interface Reading {
  at: number;
  rss: number;
  heap: number;
  /** VmHWM in bytes; 0 where /proc is missing. */
  hwm: number;
}

let last: Reading = { at: 0, rss: 0, heap: 0, hwm: 0 };
const watching = new Set<Watch>();
let timer: NodeJS.Timeout | undefined;
let procStatus = process.platform === "linux";

/** The kernel's peak RSS of this process, in bytes (0 where it is not available). */
function highWaterMark(): number {
  if (!procStatus) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "latin1"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    procStatus = false;
    return 0;
  }
}

/** The process's memory now, or as read less than `maxAgeMs` ago. */
function reading(maxAgeMs = SAMPLE_MS): Reading {
  const now = Date.now();
  if (now - last.at < maxAgeMs) return last;
  const u = process.memoryUsage();
  last = { at: now, rss: u.rss, heap: u.heapUsed, hwm: highWaterMark() };
  for (const w of watching) w.see(last);
  return last;
}

function tick(): void {
  reading(0);
}

/** One chunk's watch over memory, from its start to `stop()`. */
export class Watch {
  private rss: number;
  private heap: number;
  private readonly hwm0: number;
  private readonly t0 = Date.now();
  constructor() {
    const r = reading();
    this.rss = r.rss;
    this.heap = r.heap;
    this.hwm0 = r.hwm;
  }

  see(r: Reading): void {
    if (r.rss > this.rss) this.rss = r.rss;
    if (r.heap > this.heap) this.heap = r.heap;
  }

  /** The chunk is waiting: sample every 100 ms until it stops. */
  follow(): void {
    watching.add(this);
    timer ??= setInterval(tick, SAMPLE_MS).unref();
  }

  /** The chunk's peak memory. A high-water mark that rose since the start is this chunk's peak. */
  stop(): PeakMemory {
    watching.delete(this);
    if (watching.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
    // A chunk that ran 100 ms or more gets a reading of its own end.
    const r = reading(Date.now() - this.t0 >= SAMPLE_MS ? 0 : SAMPLE_MS);
    this.see(r);
    const rss = r.hwm > this.hwm0 ? Math.max(r.hwm, this.rss) : this.rss;
    return { peakRssMb: Math.round(rss / MB), peakHeapMb: Math.round(this.heap / MB) };
  }
}
