/**
 * Entry point of a local worker process: receives batches of tasks over IPC, runs them with
 * the shared handler (many at once: chunks that wait overlap), and sends replies back batched.
 */
import * as os from "node:os";
import * as path from "node:path";
import { FolderStore } from "../src/store/folder.js";
import type { Reply, Task } from "../src/types.js";
import { captureConsole, currentChunk, runTask, type WorkerEnv } from "./handler.js";
import type { ToParent, ToWorker } from "./protocol.js";

const storeRoot = process.env.FANOUT_STORE_ROOT;
if (!storeRoot || !process.send) {
  console.error("fanout worker: start me through the local backend (FANOUT_STORE_ROOT and an IPC channel are needed)");
  process.exit(2);
}

const memoryMb = Number(process.env.FANOUT_MEMORY_MB) || undefined;
const env: WorkerEnv = {
  store: new FolderStore(storeRoot),
  platform: "local",
  workerId: `local-${process.pid}`,
  ...(memoryMb ? { memoryMb } : {}),
  cacheDir: path.join(os.tmpdir(), "fanout-bundles"),
};

captureConsole(false);

// A chunk that calls process.exit fails itself, not the process and every chunk sharing it.
const realExit = process.exit.bind(process);
process.exit = ((code?: number) => {
  if (currentChunk()) throw new Error(`map called process.exit(${code ?? ""}); return or throw instead`);
  return realExit(code);
}) as typeof process.exit;

// An error thrown in a stray callback belongs to the chunk whose async context made it.
const onStray = (err: unknown) => {
  const scope = currentChunk();
  if (scope?.fail) return scope.fail(err);
  console.error("fanout worker: uncaught error outside any chunk:", err);
  realExit(70);
};
process.on("uncaughtException", onStray);
process.on("unhandledRejection", onStray);

const queue: Task[] = [];
const cancels = new Map<string, AbortController>();
let outbox: Reply[] = [];
let started: string[] = [];
let flushScheduled = false;
let draining = false;
/** Set after a chunk held the thread for a while: further starts are announced at once. */
let announceStarts = false;

const idOf = (t: { index: number; attempt: number }) => `${t.index}:${t.attempt}`;

function send(msg: ToParent): void {
  process.send!(msg);
}

function flush(): void {
  flushScheduled = false;
  if (started.length) {
    send({ t: "started", ids: started });
    started = [];
  }
  if (outbox.length) {
    send({ t: "done", replies: outbox });
    outbox = [];
  }
}

function scheduleFlush(): void {
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

/**
 * Start queued tasks one per macrotask so a CPU-bound chunk never holds replies of finished
 * ones back, and the parent hears from this process between chunks.
 */
function drain(): void {
  const task = queue.shift();
  if (!task) {
    draining = false;
    return;
  }
  setImmediate(drain);
  const id = idOf(task);
  const ac = new AbortController();
  cancels.set(id, ac);
  const t0 = Date.now();
  void runTask(task, env, {
    signal: ac.signal,
    onStart: () => {
      started.push(id);
      if (announceStarts) send({ t: "started", ids: started.splice(0) });
      else scheduleFlush();
    },
  }).then((reply) => {
    cancels.delete(id);
    announceStarts = Date.now() - t0 > 20 && reply.timing.endedAt - reply.timing.startedAt > 20;
    outbox.push(reply);
    scheduleFlush();
  });
}

process.on("message", (msg: ToWorker) => {
  if (msg.t === "run") {
    for (const task of msg.tasks) queue.push(task);
    if (!draining) {
      draining = true;
      setImmediate(drain);
    }
  } else if (msg.t === "cancel") {
    for (const id of msg.ids) {
      cancels.get(id)?.abort();
      const i = queue.findIndex((t) => idOf(t) === id);
      if (i >= 0) queue.splice(i, 1);
    }
  }
});

// The parent kills a process that stays silent past a chunk's deadline; a free event loop says so.
setInterval(() => send({ t: "beat" }), 1000).unref();
process.on("disconnect", () => realExit(0));
send({ t: "ready", pid: process.pid });
