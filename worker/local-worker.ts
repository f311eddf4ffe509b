/**
 * Entry point of a local worker process: receives batches of tasks over IPC, runs them with
 * the shared handler (many at once: chunks that wait overlap), and sends replies back batched.
 */
import * as os from "node:os";
import * as path from "node:path";
import { FolderStore } from "../src/store/folder.js";
import type { Reply, Task, TaskBase } from "../src/types.js";
import { runTask } from "./handler.js";
import type { CancelHandle } from "./call.js";
import type { WorkerEnv } from "./env.js";
import { guardProcess } from "./guard.js";
import { captureConsole } from "./scope.js";
import { attemptKey, encodeReply, type ToParent, type ToWorker } from "../src/compute/local/protocol.js";
import { segmentKey } from "../src/store/results.js";
import { taskOf } from "../src/task.js";
import { toRemoteError } from "../src/errors.js";

const storeRoot = process.env.FANOUT_STORE_ROOT;
if (!storeRoot || !process.send) {
  console.error("fanout worker: start me through the local backend (FANOUT_STORE_ROOT and an IPC channel are needed)");
  process.exit(2);
}

const memoryMb = Number(process.env.FANOUT_MEMORY_MB) || undefined;
const idOf = (t: { index: number; attempt: number }) => attemptKey(t.index, t.attempt);
const store = new FolderStore(storeRoot);
/** Small ok results waiting to be written as one segment per run, before their replies go. */
const segments = new Map<string, { lines: string[]; ids: Set<number> }>();
let segSeq = 0;
const SEGMENT_MAX_BODY = 8 * 1024;
const env: WorkerEnv = {
  store,
  defer: (task, ok, body) => {
    if (!ok || body.length > SEGMENT_MAX_BODY) return false;
    let seg = segments.get(task.runId);
    if (!seg) segments.set(task.runId, (seg = { lines: [], ids: new Set() }));
    seg.lines.push(body);
    seg.ids.add(idOf(task));
    return true;
  },
  platform: "local",
  workerId: `local-${process.pid}`,
  ...(memoryMb ? { memoryMb } : {}),
  cacheDir: path.join(os.tmpdir(), "fanout-bundles"),
};

// Remote stacks should name the user's TypeScript lines (job bundles carry inline source maps).
process.setSourceMapsEnabled(true);
captureConsole(false);

const realExit = guardProcess((err, exit) => {
  console.error("fanout worker: uncaught error outside any chunk:", err);
  exit(70);
});

const queue: Task[] = [];
const cancels = new Map<number, CancelHandle>();
let outbox: Reply[] = [];
let started: number[] = [];
let flushScheduled = false;
let draining = false;
/** Set after a chunk held the thread for a while: further starts are announced at once. */
let announceStarts = false;

function send(msg: ToParent): void {
  process.send!(msg);
}

/**
 * Group commit: while one segment write is in flight, finished results pile up and go out
 * together in the next one, so the number of file writes adapts to how slow the disk is
 * (creating a file costs far more than a no-op chunk). A result's reply leaves only after
 * its segment is on disk.
 */
let writing = false;

async function commit(batch: Reply[], segs: typeof segments): Promise<Reply[]> {
  const failed = new Map<number, unknown>();
  await Promise.all(
    [...segs].map(async ([runId, seg]) => {
      try {
        await store.put(segmentKey(runId, String(process.pid), ++segSeq), seg.lines.join("\n") + "\n");
      } catch (err) {
        for (const id of seg.ids) failed.set(id, err);
      }
    }),
  );
  if (failed.size === 0) return batch;
  // A result whose segment could not be written exists only here: report an outage instead.
  return batch.map((r) => {
    const err = failed.get(idOf(r));
    if (err === undefined) return r;
    const { value: _drop, ...rest } = r;
    return { ...rest, ok: false, error: toRemoteError(err, "transient") };
  });
}

function flush(): void {
  flushScheduled = false;
  if (started.length) {
    send({ t: "started", ids: started });
    started = [];
  }
  if (writing || outbox.length === 0) return;
  const batch = outbox;
  const segs = new Map(segments);
  outbox = [];
  segments.clear();
  if (segs.size === 0) {
    send({ t: "done", replies: batch.map(encodeReply) });
    return;
  }
  writing = true;
  void commit(batch, segs).then((replies) => {
    writing = false;
    send({ t: "done", replies: replies.map(encodeReply) });
    if (outbox.length) scheduleFlush();
  });
}

function scheduleFlush(): void {
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

/**
 * Start queued tasks in batches, one batch per macrotask. The batch size adapts: chunks that
 * finish at once (no-ops) go a thousand at a time, so their results share one segment write
 * and one IPC message; as soon as a batch holds the thread for long (CPU-bound chunks) it
 * drops to one, so replies of finished chunks never wait behind a long one and the parent
 * hears from this process between chunks.
 */
let batch = 1;
let lastDrain = 0;
function drain(): void {
  const now = performance.now();
  if (lastDrain) {
    const took = now - lastDrain;
    batch = took < 2 ? Math.min(1024, batch * 2) : took > 10 ? 1 : batch;
  }
  if (queue.length === 0) {
    draining = false;
    lastDrain = 0;
    return;
  }
  lastDrain = now;
  setImmediate(drain);
  for (let n = 0; n < batch && queue.length; n++) start(queue.shift()!);
}

function start(task: Task): void {
  const id = idOf(task);
  const handle: CancelHandle = {};
  const t0 = Date.now();
  const done = (reply: Reply) => {
    cancels.delete(id);
    announceStarts = Date.now() - t0 > 20 && reply.timing.endedAt - reply.timing.startedAt > 20;
    outbox.push(reply);
    scheduleFlush();
  };
  cancels.set(id, handle);
  const reply = runTask(task, env, {
    handle,
    onStart: () => {
      started.push(id);
      if (announceStarts) send({ t: "started", ids: started.splice(0) });
      else scheduleFlush();
    },
  });
  if (reply instanceof Promise) void reply.then(done);
  else done(reply);
}

const bases = new Map<string, TaskBase>();

process.on("message", (msg: ToWorker) => {
  if (msg.t === "run") {
    if (msg.base) bases.set(msg.runId, msg.base);
    const base = bases.get(msg.runId);
    if (!base) throw new Error(`fanout worker: tasks for unknown run ${msg.runId}`);
    for (const [index, attempt, source] of msg.tasks) queue.push(taskOf(base, index, attempt, source));
    if (!draining) {
      draining = true;
      setImmediate(drain);
    }
  } else if (msg.t === "cancel") {
    for (const id of msg.ids) {
      cancels.get(id)?.cancel?.();
      const i = queue.findIndex((t) => idOf(t) === id);
      if (i >= 0) queue.splice(i, 1);
    }
  }
});

// The parent kills a process that stays silent past a chunk's deadline; a free event loop says so.
setInterval(() => send({ t: "beat" }), 1000).unref();
process.on("disconnect", () => realExit(0));
send({ t: "ready", pid: process.pid });
