import { fork, type ChildProcess } from "node:child_process";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import { InfraError } from "../../errors.js";
import { localPoolSize } from "../../options.js";
import { baseOf } from "../../task.js";
import { attemptKey, decodeReply, type ToParent, type ToWorker } from "./protocol.js";
import type { Reply, Task } from "../../types.js";
import type { Backend, InvokeOptions } from "../types.js";

const WORKER_ENTRY = fileURLToPath(new URL("../../../worker/local.js", import.meta.url));
/** How long a process may stay silent past a chunk's deadline before it is killed. */
const GRACE_MS = 2000;
const STDERR_TAIL = 8192;

interface Pending {
  task: Task;
  resolve: (r: Reply) => void;
  reject: (e: InfraError) => void;
  opts: InvokeOptions;
  started: boolean;
}

interface Proc {
  child: ChildProcess;
  pending: Map<number, Pending>;
  /** Shared by every reply from this process. */
  worker: Reply["worker"];
  outbox: Task[];
  /** Runs whose TaskBase this process already has. */
  knownRuns: Set<string>;
  flushQueued: boolean;
  lastHeard: number;
  stderrTail: string;
  /** Runs one isolated task and is then retired. */
  isolated: boolean;
  /** Set when we killed it for silence: its tasks failed by timeout, not by crash. */
  killedForSilence: boolean;
  exited: boolean;
  /** Its V8 heap cap in MB: the pool's memory, or the tier an isolated chunk asked for. */
  memoryMb: number;
}

export interface LocalBackendOptions {
  /** The folder store's root, opened beside this pool: workers read and write it directly. */
  storeRoot: string;
  /** Worker processes in the pool; default: one per core. */
  processes?: number;
  /** V8 heap cap per process in MB. */
  memoryMb: number;
  /** Heap caps a chunk may ask for (`--oom-retry`), ascending; default memoryMb doubled, twice. */
  tiers?: readonly number[];
  /** Variables the worker processes get besides this process's (the run's AWS profile and region, for s3:// data). */
  env?: Record<string, string>;
}

/**
 * The heap caps `--oom-retry` climbs when the run names none: twice and four times the
 * pool's, within the machine's memory.
 */
function defaultTiers(memoryMb: number): number[] {
  const ram = Math.floor(os.totalmem() / 2 ** 20);
  return [memoryMb, memoryMb * 2, memoryMb * 4].filter((mb, i) => i === 0 || mb <= ram);
}

/**
 * The embedded local backend: a pool of warm worker processes, one per core by default.
 * Each process runs many chunks at once (chunks that wait overlap) and the pool spreads
 * them by load, so CPU-bound work uses every core. A process that dies takes only its own
 * chunks; those are rerun alone to find the one that killed it.
 */
export class LocalBackend implements Backend {
  readonly name = "local" as const;
  readonly memoryMb: number;
  readonly tiers: readonly number[];
  private readonly storeRoot: string;
  private readonly env: Record<string, string>;
  private readonly size: number;
  private readonly pool: Proc[] = [];
  private readonly all = new Set<Proc>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: LocalBackendOptions) {
    this.storeRoot = opts.storeRoot;
    this.memoryMb = opts.memoryMb;
    this.tiers = opts.tiers ?? defaultTiers(opts.memoryMb);
    this.env = opts.env ?? {};
    this.size = localPoolSize(opts.processes);
  }

  /**
   * Start the pool now, so process start-up overlaps planning and uploading instead of
   * following them.
   */
  warm(): void {
    while (this.pool.length < this.size) this.spawn(false);
  }

  invoke(task: Task, opts: InvokeOptions = {}): Promise<Reply> {
    if (this.closed) return Promise.reject(new InfraError("cancelled", "local backend is closed"));
    // A chunk on another memory tier runs alone in a process with that heap, retired after it.
    const tier = opts.memoryMb !== undefined && opts.memoryMb !== this.memoryMb ? opts.memoryMb : undefined;
    const proc = opts.isolate || tier ? this.spawn(true, tier) : this.pick();
    return new Promise<Reply>((resolve, reject) => {
      const id = attemptKey(task.index, task.attempt);
      opts.cancel = () => {
        if (!proc.pending.delete(id)) return;
        this.post(proc, { t: "cancel", ids: [id] });
        reject(new InfraError("cancelled", "cancelled"));
        this.retireIfIdle(proc);
      };
      proc.pending.set(id, { task, resolve, reject, opts, started: false });
      proc.outbox.push(task);
      if (!proc.flushQueued) {
        proc.flushQueued = true;
        // Tasks dispatched in the same tick travel in one IPC message.
        queueMicrotask(() => this.flushOutbox(proc));
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    // Idle workers leave on disconnect; one stuck in a chunk is killed after a short wait.
    const exits = [...this.all].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exited) return resolve();
          const timer = setTimeout(() => p.child.kill("SIGKILL"), p.pending.size ? 0 : 1000);
          p.child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          if (p.child.connected) p.child.disconnect();
        }),
    );
    await Promise.all(exits);
  }

  private flushOutbox(proc: Proc): void {
    proc.flushQueued = false;
    if (proc.outbox.length === 0 || proc.exited) return;
    const tasks = proc.outbox;
    proc.outbox = [];
    // Group by run: the shared fields go once per process and run.
    const byRun = new Map<string, Task[]>();
    for (const t of tasks) {
      const list = byRun.get(t.runId);
      if (list) list.push(t);
      else byRun.set(t.runId, [t]);
    }
    for (const [runId, list] of byRun) {
      const first = list[0]!;
      const base = proc.knownRuns.has(runId) ? undefined : baseOf(first);
      proc.knownRuns.add(runId);
      this.post(proc, { t: "run", runId, ...(base ? { base } : {}), tasks: list.map((t) => [t.index, t.attempt, t.source]) });
    }
  }

  private post(proc: Proc, msg: ToWorker): void {
    if (proc.exited || !proc.child.connected) return;
    proc.child.send(msg);
  }

  /** The pool process with the fewest chunks in flight; the pool grows to its size first. */
  private pick(): Proc {
    if (this.pool.length < this.size) {
      const p = this.spawn(false);
      return p;
    }
    let best = this.pool[0]!;
    for (const p of this.pool) if (p.pending.size < best.pending.size) best = p;
    return best;
  }

  private spawn(isolated: boolean, memoryMb = this.memoryMb): Proc {
    const execArgv = ["--enable-source-maps", `--max-old-space-size=${memoryMb}`, ...(process.env.FANOUT_WORKER_NODE_ARGS?.split(" ").filter(Boolean) ?? [])];
    const child = fork(WORKER_ENTRY, [], {
      execArgv,
      env: {
        ...process.env,
        ...this.env,
        FANOUT_STORE_ROOT: this.storeRoot,
        FANOUT_MEMORY_MB: String(memoryMb),
      },
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      serialization: "json",
    });
    const proc: Proc = {
      child,
      pending: new Map(),
      worker: { platform: "local", id: `local-${child.pid}`, memoryMb },
      outbox: [],
      knownRuns: new Set(),
      flushQueued: false,
      lastHeard: Date.now(),
      stderrTail: "",
      isolated,
      killedForSilence: false,
      exited: false,
      memoryMb,
    };
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (s: string) => {
      proc.stderrTail = (proc.stderrTail + s).slice(-STDERR_TAIL);
    });
    child.on("message", (msg: ToParent) => this.onMessage(proc, msg));
    child.on("exit", (code, signal) => this.onExit(proc, code, signal));
    child.on("error", () => {});
    if (!isolated) this.pool.push(proc);
    this.all.add(proc);
    this.sweeper ??= setInterval(() => this.sweep(), 500);
    this.sweeper.unref();
    return proc;
  }

  private onMessage(proc: Proc, msg: ToParent): void {
    proc.lastHeard = Date.now();
    if (msg.t === "done") {
      for (const wire of msg.replies) {
        const id = attemptKey(wire[0], wire[1]);
        const p = proc.pending.get(id);
        if (!p) continue; // cancelled meanwhile: the first result already won
        proc.pending.delete(id);
        const reply = decodeReply(wire, p.task.runId, proc.worker);
        p.opts.cancel = undefined;
        if (!p.started) p.opts.started?.();
        if (!reply.ok && reply.error?.kind === "transient") {
          p.reject(new InfraError("transient", reply.error.message, { cause: reply.error }));
        } else p.resolve(reply);
      }
      this.retireIfIdle(proc);
    } else if (msg.t === "progress") {
      for (const [id, fraction] of msg.items) proc.pending.get(id)?.opts.progress?.(fraction);
    } else if (msg.t === "started") {
      for (const id of msg.ids) {
        const p = proc.pending.get(id);
        if (p && !p.started) {
          p.started = true;
          p.opts.started?.();
        }
      }
    }
  }

  private retireIfIdle(proc: Proc): void {
    if (proc.isolated && proc.pending.size === 0 && !proc.exited) proc.child.kill("SIGKILL");
  }

  private onExit(proc: Proc, code: number | null, signal: NodeJS.Signals | null): void {
    proc.exited = true;
    this.all.delete(proc);
    const i = this.pool.indexOf(proc);
    if (i >= 0) this.pool.splice(i, 1);
    if (proc.pending.size === 0) return;
    const victims = [...proc.pending.values()];
    proc.pending.clear();
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const oom = /heap out of memory|Reached heap limit|Allocation failed/i.test(proc.stderrTail);
    // Alone, the chunk is its own culprit; shared, every chunk is a suspect and reruns alone.
    const alone = victims.length === 1 || proc.isolated;
    for (const v of victims) {
      v.opts.cancel = undefined;
      let err: InfraError;
      if (proc.killedForSilence) {
        err = alone
          ? new InfraError("timeout", `chunk ${v.task.index} timed out after ${v.task.timeoutMs / 1000} s and did not yield; its worker process was killed`)
          : new InfraError("timeout", `a chunk held worker process ${proc.child.pid} past its timeout; rerunning its ${victims.length} chunks one by one`, { bystander: true });
      } else if (oom) {
        err = alone
          ? new InfraError("oom", `worker ran out of memory (limit ${proc.memoryMb} MB, set with --memory)`)
          : new InfraError("oom", `worker process ${proc.child.pid} ran out of memory with ${victims.length} chunks in it; rerunning them one by one`, { bystander: true });
      } else {
        err = alone
          ? new InfraError("crash", `worker process died (${how}) while running chunk ${v.task.index}`)
          : new InfraError("crash", `worker process ${proc.child.pid} died (${how}) with ${victims.length} chunks in it; rerunning them one by one`, { bystander: true });
      }
      v.reject(err);
    }
  }

  /** Kill processes whose event loop has been stuck past the deadline of a chunk they hold. */
  private sweep(): void {
    const now = Date.now();
    for (const proc of this.all) {
      if (proc.exited || proc.pending.size === 0) continue;
      let limit = Infinity;
      for (const p of proc.pending.values()) if (p.task.timeoutMs > 0) limit = Math.min(limit, p.task.timeoutMs);
      if (limit === Infinity) continue;
      if (now - proc.lastHeard > limit + GRACE_MS) {
        proc.killedForSilence = true;
        proc.child.kill("SIGKILL");
      }
    }
  }
}
