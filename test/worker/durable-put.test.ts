// The result PUT waits out a store outage until the invocation's deadline: the policy (how long
// to wait, when to give up) and the loop, on a fake clock and a store that fails on cue.
import { describe, expect, it } from "vitest";
import { nextWait, putDurably, type DurablePutClock } from "../../dist/worker/durable-put.js";
import type { ObjectStore } from "../../dist/src/store/types.js";

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4569"), { code: "ECONNREFUSED" });
const denied = () => Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });

describe("nextWait", () => {
  it("doubles from 250 ms up to 4 s, half of it drawn at random", () => {
    const waits = [1, 2, 3, 4, 5, 6, 7].map((t) => nextWait(refused(), t, 0, 1e9, 0));
    expect(waits).toStrictEqual([125, 250, 500, 1000, 2000, 2000, 2000]);
    expect(nextWait(refused(), 1, 0, 1e9, 0.999)).toBe(250);
    expect(nextWait(refused(), 9, 0, 1e9, 0.5)).toBe(3000);
  });

  it("gives up on an error that is not an outage", () => {
    expect(nextWait(denied(), 1, 0, 1e9, 0)).toBeUndefined();
    expect(nextWait(new Error("bad"), 1, 0, 1e9, 0)).toBeUndefined();
  });

  it("never waits past the deadline", () => {
    expect(nextWait(refused(), 1, 1000, 1126, 0)).toBe(125);
    expect(nextWait(refused(), 1, 1000, 1125, 0)).toBeUndefined();
    expect(nextWait({ $metadata: { httpStatusCode: 503 } }, 3, 0, 499, 0)).toBeUndefined();
  });
});

/** A store whose puts fail with `errors` in turn, then succeed; and a clock that only moves when slept. */
function rig(errors: Error[]): { store: ObjectStore; clock: DurablePutClock; puts: () => number; slept: number[]; stored: Map<string, string> } {
  let t = 0;
  let n = 0;
  const slept: number[] = [];
  const stored = new Map<string, string>();
  const store = {
    put: async (key: string, body: string) => {
      n++;
      const e = errors.shift();
      if (e) throw e;
      stored.set(key, body);
    },
  } as unknown as ObjectStore;
  const clock: DurablePutClock = { now: () => t, sleep: async (ms) => slept.push(ms) && (t += ms), random: () => 0 };
  return { store, clock, puts: () => n, slept, stored };
}

describe("putDurably", () => {
  it("asks again through an outage and stores the body once it is over", async () => {
    const r = rig([refused(), refused(), refused(), refused(), refused()]);
    await putDurably(r.store, "runs/x/results/3.json", "{}", 60_000, r.clock);
    expect(r.puts()).toBe(6);
    expect(r.slept).toStrictEqual([125, 250, 500, 1000, 2000]);
    expect(r.stored.get("runs/x/results/3.json")).toBe("{}");
  });

  it("throws the last error when the deadline comes first", async () => {
    const r = rig(Array.from({ length: 20 }, refused));
    await expect(putDurably(r.store, "k", "{}", 3000, r.clock)).rejects.toThrow("ECONNREFUSED");
    // 125 + 250 + 500 + 1000 = 1875 ms slept; the next wait (2000) would end past 3000.
    expect(r.slept).toStrictEqual([125, 250, 500, 1000]);
    expect(r.puts()).toBe(5);
    expect(r.stored.size).toBe(0);
  });

  it("does not ask again after a refusal that waiting cannot mend", async () => {
    const r = rig([denied()]);
    await expect(putDurably(r.store, "k", "{}", 60_000, r.clock)).rejects.toThrow("Access Denied");
    expect(r.puts()).toBe(1);
    expect(r.slept).toStrictEqual([]);
  });
});
