import { describe, expect, it } from "vitest";
import { ConcurrencyGate } from "../../dist/src/exec/gate.js";

describe("ConcurrencyGate", () => {
  /** Items that finish when released, recording the most in flight at once. */
  function items() {
    const release: (() => void)[] = [];
    let running = 0;
    const state = { peak: 0, started: [] as number[] };
    const start = (i: number) =>
      new Promise<void>((resolve) => {
        state.started.push(i);
        state.peak = Math.max(state.peak, ++running);
        release[i] = () => {
          running--;
          resolve();
        };
      });
    return { start, release, state };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it("never runs more than its limit and runs every item once", async () => {
    const { start, release, state } = items();
    const gate = new ConcurrencyGate(2);
    const done = gate.drain(5, start, () => false);
    for (let i = 0; i < 5; i++) {
      await tick();
      release[i]!();
    }
    await done;
    expect([state.peak, state.started, gate.inFlight]).toEqual([2, [0, 1, 2, 3, 4], 0]);
  });

  it("a raised limit starts waiting items at once; a lowered one lets running items finish", async () => {
    const { start, release, state } = items();
    const gate = new ConcurrencyGate(1);
    const done = gate.drain(6, start, () => false);
    expect(state.started).toEqual([0]);
    gate.setLimit(3);
    expect([state.started, gate.inFlight]).toEqual([[0, 1, 2], 3]);
    gate.setLimit(1);
    release[0]!();
    release[1]!();
    await tick();
    expect(gate.inFlight).toBe(1);
    release[2]!();
    await tick();
    expect(state.started).toEqual([0, 1, 2, 3]);
    for (const i of [3, 4, 5]) {
      release[i]!();
      await tick();
    }
    await done;
    expect(state.started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("stops dispatching when told, and resolves once running items settle", async () => {
    const { start, release, state } = items();
    let stopped = false;
    const done = new ConcurrencyGate(2).drain(5, start, () => stopped);
    stopped = true;
    release[0]!();
    release[1]!();
    await done;
    expect(state.started).toEqual([0, 1]);
  });

  it("an item stepped out gives its slot back, returns before new items, and the drain waits for it", async () => {
    const order: string[] = [];
    const gate = new ConcurrencyGate(2);
    let wake!: () => void;
    const away = new Promise<void>((r) => (wake = r));
    let releaseB!: () => void;
    const done = gate.drain(
      3,
      async (i) => {
        order.push(`start ${i}`);
        if (i === 0) {
          await gate.stepOut(() => away);
          order.push("0 back");
        } else if (i === 1) {
          await new Promise<void>((r) => (releaseB = r));
        }
      },
      () => false,
    );
    await tick();
    // 0 stepped out: its slot went to 2, which finished; the drain still waits for 0.
    expect([order, gate.inFlight]).toEqual([["start 0", "start 1", "start 2"], 1]);
    gate.setLimit(1);
    wake();
    await tick();
    // Back, but the limit is 1 and 1 holds the slot: 0 waits for it.
    expect(order).not.toContain("0 back");
    releaseB();
    await done;
    expect([order.at(-1), gate.inFlight]).toEqual(["0 back", 0]);
  });

  it("a limit below 1 is 1; no items resolve at once", async () => {
    expect(new ConcurrencyGate(0).limit).toBe(1);
    await new ConcurrencyGate(4).drain(0, () => Promise.reject(new Error("never")), () => false);
  });
});
