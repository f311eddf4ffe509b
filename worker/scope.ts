/**
 * Per-chunk state reachable from anywhere in a chunk's async call tree, and the console
 * capture that uses it: chunks share a process, so AsyncLocalStorage tells whose line it is.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";
import type { ChunkOutputs } from "./outputs.js";

export interface ChunkScope {
  index: number;
  logs: string[];
  logBytes: number;
  /** When the chunk's own code finished (before other chunks' continuations run). */
  endedAt?: number;
  /** Fails the chunk from outside its await chain (an error thrown in a stray callback). */
  fail?: (err: unknown) => void;
  /** The latest `ctx.progress` fraction (0..1), if the chunk reported one. */
  progress?: number;
  /** Told of each `ctx.progress` call (the local worker sends it to the parent). */
  onProgress?: (fraction: number) => void;
  /** The chunk's `ctx.write`s, made at its first write. */
  outputs?: ChunkOutputs;
}

export const chunkScope = new AsyncLocalStorage<ChunkScope>();

/**
 * A chunk's log budget, in UTF-8 bytes: the logs travel in the reply, and Lambda refuses a
 * reply over 6,291,556 bytes. Past the budget, one marker line says the rest was dropped.
 */
export const MAX_LOG_LINES = 2000;
export const MAX_LOG_BYTES = 256 * 1024;
export const LOGS_DROPPED = "[fanout: further log lines dropped]";
/** The longest line kept, in bytes: one huge line must not spend the whole budget (or a reply). */
const MAX_LINE_BYTES = 16 * 1024;

/** A line cut to MAX_LINE_BYTES, with a marker saying how long it was. */
function capLine(line: string): string {
  // Few lines come near the cap: only those pay for counting bytes.
  if (line.length * 3 <= MAX_LINE_BYTES) return line;
  const bytes = Buffer.byteLength(line);
  if (bytes <= MAX_LINE_BYTES) return line;
  const kept = Buffer.from(line.slice(0, MAX_LINE_BYTES)).subarray(0, MAX_LINE_BYTES).toString("utf8");
  return `${kept} [fanout: line truncated, ${bytes} bytes in all]`;
}

export function newScope(index: number): ChunkScope {
  return { index, logs: [], logBytes: 0 };
}

export function appendLog(scope: ChunkScope, line: string): void {
  if (scope.logs.length >= MAX_LOG_LINES || scope.logBytes >= MAX_LOG_BYTES) {
    if (scope.logs[scope.logs.length - 1] !== LOGS_DROPPED) scope.logs.push(LOGS_DROPPED);
    return;
  }
  const kept = capLine(line);
  scope.logs.push(kept);
  scope.logBytes += Buffer.byteLength(kept);
}

/**
 * Route console output made inside a chunk to that chunk's log. `echo` keeps the original
 * output too (Lambda: CloudWatch).
 */
export function captureConsole(echo: boolean): void {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const scope = chunkScope.getStore();
      if (scope) appendLog(scope, format(...args));
      if (!scope || echo) original(...args);
    };
  }
}
