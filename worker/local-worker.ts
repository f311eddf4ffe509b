/**
 * A local worker process's work: runs batches of tasks from the parent with the shared
 * handler (many at once: chunks that wait overlap), and sends replies back batched. Nothing
 * happens at import; worker/local.ts builds one and wires it to the process's IPC channel.
 */
import { attemptKey, encodeReply, type ToParent, type ToWorker } from "../src/compute/local/protocol.js";
import type { ObjectStore } from "../src/store/types.js";
import { taskOf } from "../src/task.js";
import type { Reply, Task, TaskBase } from "../src/types.js";
import type { CancelHandle } from "./call.js";
import type { WorkerEnv } from "./env.js";
import { runTask } from "./handler.js";
import type { SecretReader } from "./secrets.js";
import { SegmentWriter } from "./segment-writer.js";

export interface LocalWorkerOptions {
  store: ObjectStore;
  pid: number;
  memoryMb?: number;
  /** Where bundles are cached when the store has no local file for them. */
  cacheDir: string;
  send: (msg: ToParent) => void;
  /** Reads a run's secrets (with the caller's AWS credential chain). */
  readSecret?: SecretReader;
}

/** How often a process sends its chunks' progress to the parent. */
const PROGRESS_MS = 200;

const idOf = (t: { index: number; attempt: number }) => attemptKey(t.index, t.attempt);

export class LocalWorker {
  private readonly env: WorkerEnv;
  private readonly send: (msg: ToParent) => void;
  private readonly segments: SegmentWriter;
  private readonly bases = new Map<string, TaskBase>();
  private readonly queue: Task[] = [];
  private readonly cancels = new Map<number, CancelHandle>();
  private outbox: Reply[] = [];
  private started: number[] = [];
  /** Progress reported since the last progress message, by attempt id (the latest wins). */
  private progress = new Map<number, number>();
  private progressScheduled = false;
  private flushScheduled = false;
  private draining = false;
  /** A segment write is in flight: finished results pile up for the next one. */
  private writing = false;
  /** Set after a chunk held the thread for a while: further starts are announced at once. */
  private announceStarts = false;
  /** How many queued tasks one drain starts, and when the last drain ran (see drain). */
  private batch = 1;
  private lastDrain = 0;

  constructor(opts: LocalWorkerOptions) {
    this.send = opts.send;
    this.segments = new SegmentWriter(opts.store, String(opts.pid));
    this.env = {
      store: opts.store,
      defer: (task, ok, body) => this.segments.offer(task, ok, body),
      platform: "local",
      workerId: `local-${opts.pid}`,
      ...(opts.memoryMb ? { memoryMb: opts.memoryMb } : {}),
      cacheDir: opts.cacheDir,
      ...(opts.readSecret ? { readSecret: opts.readSecret } : {}),
      progress: (task, fraction) => this.onProgress(idOf(task), fraction),
    };
  }

  /** ctx.progress from a chunk: sent at most every PROGRESS_MS, one message for all chunks. */
  private onProgress(id: number, fraction: number): void {
    this.progress.set(id, fraction);
    if (this.progressScheduled) return;
    this.progressScheduled = true;
    setTimeout(() => {
      this.progressScheduled = false;
      const items = [...this.progress];
      this.progress.clear();
      this.send({ t: "progress", items });
    }, PROGRESS_MS).unref();
  }

  onMessage(msg: ToWorker): void {
    if (msg.t === "run") this.enqueue(msg);
    else if (msg.t === "cancel") this.cancel(msg.ids);
  }

  private enqueue(msg: Extract<ToWorker, { t: "run" }>): void {
    if (msg.base) this.bases.set(msg.runId, msg.base);
    const base = this.bases.get(msg.runId);
    if (!base) throw new Error(`fanout worker: tasks for unknown run ${msg.runId}`);
    for (const [index, attempt, source] of msg.tasks) this.queue.push(taskOf(base, index, attempt, source));
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drain);
    }
  }

  private cancel(ids: number[]): void {
    for (const id of ids) {
      this.cancels.get(id)?.cancel?.();
      const i = this.queue.findIndex((t) => idOf(t) === id);
      if (i >= 0) this.queue.splice(i, 1);
    }
  }

  /**
   * Start queued tasks in batches, one batch per macrotask. The batch size adapts: chunks that
   * finish at once (no-ops) go a thousand at a time, so their results share one segment write
   * and one IPC message; as soon as a batch holds the thread for long (CPU-bound chunks) it
   * drops to one, so replies of finished chunks never wait behind a long one and the parent
   * hears from this process between chunks.
   */
  private readonly drain = (): void => {
    const now = performance.now();
    if (this.lastDrain) {
      const took = now - this.lastDrain;
      this.batch = took < 2 ? Math.min(1024, this.batch * 2) : took > 10 ? 1 : this.batch;
    }
    if (this.queue.length === 0) {
      this.draining = false;
      this.lastDrain = 0;
      return;
    }
    this.lastDrain = now;
    setImmediate(this.drain);
    for (let n = 0; n < this.batch && this.queue.length; n++) this.start(this.queue.shift()!);
  };

  private start(task: Task): void {
    const id = idOf(task);
    const handle: CancelHandle = {};
    const t0 = Date.now();
    const done = (reply: Reply) => {
      this.cancels.delete(id);
      this.announceStarts = Date.now() - t0 > 20 && reply.timing.endedAt - reply.timing.startedAt > 20;
      this.outbox.push(reply);
      this.scheduleFlush();
    };
    this.cancels.set(id, handle);
    const reply = runTask(task, this.env, {
      handle,
      onStart: () => {
        this.started.push(id);
        if (this.announceStarts) this.send({ t: "started", ids: this.started.splice(0) });
        else this.scheduleFlush();
      },
    });
    if (reply instanceof Promise) void reply.then(done);
    else done(reply);
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Group commit: while one segment write is in flight, finished results pile up and go out
   * together in the next one, so the number of file writes adapts to how slow the disk is
   * (creating a file costs far more than a no-op chunk). A result's reply leaves only after
   * its segment is on disk.
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.started.length) {
      this.send({ t: "started", ids: this.started });
      this.started = [];
    }
    if (this.writing || this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    if (this.segments.empty) {
      this.send({ t: "done", replies: batch.map(encodeReply) });
      return;
    }
    this.writing = true;
    void this.segments.commit(batch).then((replies) => {
      this.writing = false;
      this.send({ t: "done", replies: replies.map(encodeReply) });
      if (this.outbox.length) this.scheduleFlush();
    });
  };
}
