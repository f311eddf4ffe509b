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
  /** The part being written, if any (removal waits for it). */
  writing: Promise<void> | undefined;
}

const running = new Set<Live>();
let timer: NodeJS.Timeout | undefined;

/**
 * Removes an attempt's live parts once its outcome, which holds every line, is stored: a run
 * of long chunks would otherwise leave one object per chunk every 2 s behind it.
 */
export type DropParts = () => Promise<void>;

/**
 * Start flushing the chunk's live log. The function returned stops it, and gives the way to
 * remove the parts written, if there are any.
 */
export function followChunk(task: Task, env: WorkerEnv, scope: ChunkScope, redact: (line: string) => string = (l) => l): () => DropParts | undefined {
  const live: Live = { task, env, scope, redact, sent: 0, sentProgress: undefined, part: 1, lastFlush: Date.now(), writing: undefined };
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
    return live.part > 1 || live.writing ? () => dropParts(live) : undefined;
  };
}

async function dropParts(live: Live): Promise<void> {
  await live.writing;
  const { runId, index, attempt } = live.task;
  const written = Array.from({ length: live.part - 1 }, (_, i) => keys.livePart(runId, index, attempt, i + 1));
  if (written.length === 0) return;
  try {
    await live.env.store.delete(written);
  } catch {
    // Left for `fanout gc` and the bucket's expiry rule.
  }
}

function tick(): void {
  const now = Date.now();
  for (const live of running) {
    if (!live.writing && now - live.lastFlush >= LIVE_LOG_MS) {
      live.writing = flush(live, now).finally(() => (live.writing = undefined));
    }
  }
}

/** Write the lines and progress that are new since the last part; a failed write is tried again next time. */
async function flush(live: Live, now: number): Promise<void> {
  live.lastFlush = now;
  const { scope, task } = live;
  const upTo = scope.logs.length;
  if (upTo === live.sent && scope.progress === live.sentProgress) return;
  const part: LivePart = { lines: scope.logs.slice(live.sent, upTo).map(live.redact), ...(scope.progress !== undefined ? { progress: scope.progress } : {}), at: now };
  try {
    await live.env.store.put(keys.livePart(task.runId, task.index, task.attempt, live.part), JSON.stringify(part));
    live.part++;
    live.sent = upTo;
    live.sentProgress = part.progress;
  } catch {
    // Live lines are a convenience: the result envelope carries them all anyway.
  }
}
