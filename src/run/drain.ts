/**
 * A remote driver's backend: it can stop taking new chunks while those in flight finish (near
 * the driver's deadline), and it has the chunks in flight recorded (`note`, in the lease)
 * before each invocation leaves, so a successor of a driver that died waits for them instead
 * of starting them again.
 */
import type { Backend, InvokeOptions } from "../compute/types.js";
import { InfraError } from "../errors.js";
import type { Reply, Task } from "../types.js";
import type { InFlightChunk } from "./lease.js";

/** After a chunk's own timeout, how long until its invocation is surely over (Lambda ends it by then). */
const OVER_AFTER_MS = 5_000;

export class DrainingBackend implements Backend {
  readonly name: Backend["name"];
  readonly memoryMb: number;
  readonly arch?: "arm64" | "x86_64";
  readonly concurrencyCap?: number;
  readonly tiers?: readonly number[];
  readonly tmpMb?: number;
  private inFlight = 0;
  private draining = false;
  private onIdle: (() => void) | undefined;
  /** Invocations held back since the drain began: each rejects (cancelled) when the executor cancels it. */
  private readonly held = new Set<() => void>();
  private readonly flying = new Set<InFlightChunk>();

  constructor(
    private readonly inner: Backend,
    private readonly note: (chunks: InFlightChunk[]) => Promise<void> = async () => {},
  ) {
    this.name = inner.name;
    this.memoryMb = inner.memoryMb;
    if (inner.arch) this.arch = inner.arch;
    if (inner.concurrencyCap !== undefined) this.concurrencyCap = inner.concurrencyCap;
    if (inner.tiers) this.tiers = inner.tiers;
    if (inner.tmpMb !== undefined) this.tmpMb = inner.tmpMb;
  }

  async invoke(task: Task, opts: InvokeOptions = {}): Promise<Reply> {
    if (this.draining) return this.hold(opts);
    this.inFlight++;
    const chunk: InFlightChunk = { index: task.index, attempt: task.attempt, until: Date.now() + task.timeoutMs + OVER_AFTER_MS };
    this.flying.add(chunk);
    try {
      await this.note([...this.flying]);
      return await this.inner.invoke(task, opts);
    } finally {
      this.flying.delete(chunk);
      if (--this.inFlight === 0) this.onIdle?.();
    }
  }

  /** Take no new chunks from now on; resolves once none is in flight. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.onIdle = resolve));
  }

  /** Never sent: it waits for the executor, stopped by the handover, to cancel it. */
  private hold(opts: InvokeOptions): Promise<Reply> {
    return new Promise<Reply>((_, reject) => {
      const cancel = () => {
        this.held.delete(cancel);
        reject(new InfraError("cancelled", "held back for the next driver"));
      };
      this.held.add(cancel);
      opts.cancel = cancel;
    });
  }

  close(): Promise<void> {
    for (const cancel of [...this.held]) cancel();
    return this.inner.close();
  }
}
