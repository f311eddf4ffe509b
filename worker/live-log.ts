/**
 * Live logs: while a chunk runs, its new log lines and its latest `ctx.progress` go to the
 * store every few seconds as numbered part objects (S3 cannot append), so `fanout logs -f`
 * shows a chunk's output before it ends. One timer per process serves every running chunk,
 * and a chunk that says nothing new writes nothing.
 */
import { keys } from "../src/store/keys.js";
import type { LivePart, Task } from "../src/types.js";
import type { WorkerEnv } from "./env.js";
import type { ChunkScope } from "./scope.js";

/** How often a running chunk's new lines are written. */
const LIVE_LOG_MS = 2000;
/** How often the shared timer looks at the running chunks. */
const TICK_MS = 250;

interface Live {
  task: Task;
  env: WorkerEnv;
  scope: ChunkScope;
  /** The run's --env/--secret values out of each line before it leaves the worker. */
  redact: (line: string) => string;
  /** Lines already in a part. */
  sent: number;
  sentProgress: number | undefined;
  /** The next part's number. */
  part: number;
  lastFlush: number;
  writing: boolean;
}

const running = new Set<Live>();
let timer: NodeJS.Timeout | undefined;

/** Start flushing the chunk's live log; the function returned stops it (the result envelope has every line). */
export function followChunk(task: Task, env: WorkerEnv, scope: ChunkScope, redact: (line: string) => string = (l) => l): () => void {
  const live: Live = { task, env, scope, redact, sent: 0, sentProgress: undefined, part: 1, lastFlush: Date.now(), writing: false };
  running.add(live);
  if (!timer) {
    timer = setInterval(tick, TICK_MS);
    // A chunk's own timers keep the process alive; this one must not.
    timer.unref();
  }
  return () => {
    running.delete(live);
    if (running.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

function tick(): void {
  const now = Date.now();
  for (const live of running) {
    if (!live.writing && now - live.lastFlush >= LIVE_LOG_MS) void flush(live, now);
  }
}

/** Write the lines and progress that are new since the last part; a failed write is tried again next time. */
async function flush(live: Live, now: number): Promise<void> {
  live.lastFlush = now;
  const { scope, task } = live;
  const upTo = scope.logs.length;
  if (upTo === live.sent && scope.progress === live.sentProgress) return;
  const part: LivePart = { lines: scope.logs.slice(live.sent, upTo).map(live.redact), ...(scope.progress !== undefined ? { progress: scope.progress } : {}), at: now };
  live.writing = true;
  try {
    await live.env.store.put(keys.livePart(task.runId, task.index, task.attempt, live.part), JSON.stringify(part));
    live.part++;
    live.sent = upTo;
    live.sentProgress = part.progress;
  } catch {
    // Live lines are a convenience: the result envelope carries them all anyway.
  } finally {
    live.writing = false;
  }
}
