import type { ChunkSource, RemoteError, Reply, TaskBase } from "../../types.js";

/** A task on the wire: what differs per task; the rest is its run's TaskBase. */
type WireTask = [index: number, attempt: number, source: ChunkSource];

/**
 * Messages between the local backend and its worker processes (JSON over the IPC channel).
 * A run's shared task fields travel once per process (`base`), then only WireTasks.
 */
export type ToWorker =
  | { t: "run"; base?: TaskBase; runId: string; tasks: WireTask[] }
  | { t: "cancel"; ids: number[] };

export type ToParent =
  | { t: "ready"; pid: number }
  | { t: "started"; ids: number[] }
  | { t: "done"; replies: WireReply[] }
  /** Running chunks' latest `ctx.progress`, by attempt id (see attemptKey). */
  | { t: "progress"; items: [id: number, fraction: number][] }
  | { t: "beat" };

/** An attempt's id on the wire and in maps: a number, since a string per chunk is garbage. */
export const attemptKey = (index: number, attempt: number): number => index * 4096 + attempt;

const OK = 1;
const COLD = 2;
const STORED = 4;
/** The reply carries a value: JSON turns an `undefined` in an array into null, so presence needs its own bit. */
const VALUE = 8;

/**
 * A reply on the wire: positional, with the run id, worker identity and empty logs left out
 * (the parent knows them), so a no-op chunk costs a few bytes of JSON, not a few hundred.
 * [index, attempt, flags, startedAt, endedAt, loadMs, bytes, value?, extra?]
 */
export type WireReply = [number, number, number, number, number, number, number, unknown?, { error?: RemoteError; logs?: string[]; mem?: [rss: number, heap: number] }?];

export function encodeReply(r: Reply): WireReply {
  const flags = (r.ok ? OK : 0) | (r.timing.coldStart ? COLD : 0) | (r.stored ? STORED : 0) | (r.value !== undefined ? VALUE : 0);
  const w: WireReply = [r.index, r.attempt, flags, r.timing.startedAt, r.timing.endedAt, r.timing.loadMs, r.bytes];
  const extra =
    r.error || r.logs.length || r.memory
      ? { ...(r.error ? { error: r.error } : {}), ...(r.logs.length ? { logs: r.logs } : {}), ...(r.memory ? { mem: [r.memory.peakRssMb, r.memory.peakHeapMb] as [number, number] } : {}) }
      : undefined;
  if (r.value !== undefined || extra) w.push(r.value);
  if (extra) w.push(extra);
  return w;
}

const NO_LOGS: string[] = Object.freeze([]) as unknown as string[];

export function decodeReply(w: WireReply, runId: string, worker: Reply["worker"]): Reply {
  const [index, attempt, flags, startedAt, endedAt, loadMs, bytes, value, extra] = w;
  const reply: Reply = {
    v: 1,
    runId,
    index,
    attempt,
    ok: (flags & OK) !== 0,
    timing: { startedAt, endedAt, loadMs, coldStart: (flags & COLD) !== 0 },
    logs: extra?.logs ?? NO_LOGS,
    worker,
    bytes,
  };
  if (flags & VALUE) reply.value = value;
  if (flags & STORED) reply.stored = true;
  if (extra?.error) reply.error = extra.error;
  if (extra?.mem) reply.memory = { peakRssMb: extra.mem[0], peakHeapMb: extra.mem[1] };
  return reply;
}
