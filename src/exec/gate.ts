/**
 * Bounded concurrency as a counter, not a queue: the next item's work is made only when a
 * slot frees up. (p-limit, used elsewhere, keeps promises and a queue entry per task, which
 * profiling showed to be the executor's largest cost for no-op chunks.) The limit can be
 * lowered and raised while items run; lowering lets running items finish. An item can step
 * out (give its slot back while it waits) and is let back in before any new item.
 */
export class ConcurrencyGate {
  private max: number;
  private running = 0;
  /** Items stepped out and still waiting; the drain does not end while any is away. */
  private away = 0;
  /** Items back from stepping out, waiting for a slot. */
  private readonly returning: (() => void)[] = [];
  private pump: (() => void) | undefined;

  constructor(limit: number) {
    this.max = Math.max(1, limit);
  }

  get limit(): number {
    return this.max;
  }

  /** Items in flight now. */
  get inFlight(): number {
    return this.running;
  }

  /** Sets the limit (at least 1); a raise starts waiting items at once. */
  setLimit(limit: number): void {
    this.max = Math.max(1, limit);
    this.pump?.();
  }

  /**
   * Gives the calling item's slot back while `wait` runs, then resolves once the item holds a
   * slot again under the limit then in force. Only for an item of the current drain.
   */
  async stepOut(wait: () => Promise<void>): Promise<void> {
    this.running--;
    this.away++;
    this.pump?.();
    try {
      await wait();
    } finally {
      this.away--;
    }
    await new Promise<void>((resolve) => {
      this.returning.push(resolve);
      this.pump?.();
    });
  }

  /**
   * Runs start(0) .. start(count - 1), at most `limit` at a time, until all settled or
   * `stopped()` says to dispatch no more; resolves when none is in flight. One drain at a time.
   */
  drain(count: number, start: (i: number) => Promise<void>, stopped: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      let next = 0;
      const onSettled = () => {
        this.running--;
        feed();
      };
      const feed = () => {
        // Returning items first; once stopped, all of them at once (they only need to see it and end).
        while (this.returning.length > 0 && (this.running < this.max || stopped())) {
          this.running++;
          this.returning.shift()!();
        }
        while (this.running < this.max && next < count && !stopped()) {
          this.running++;
          start(next++).then(onSettled, onSettled);
        }
        if (this.running === 0 && this.away === 0 && this.returning.length === 0 && (next === count || stopped())) {
          this.pump = undefined;
          resolve();
        }
      };
      this.pump = feed;
      feed();
    });
  }
}
