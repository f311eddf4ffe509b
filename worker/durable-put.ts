/**
 * The result PUT rides out a store outage for as long as the invocation may still reply: the
 * chunk's work is in that body, and a failed PUT makes the client compute the chunk again.
 *
 * The SDK's own retries are not enough for that. They are counted (maxAttempts), with full
 * jitter, so ten attempts can all be spent within a few seconds; and they draw on one token
 * bucket per client (500 tokens, 10 per retry after a connection error, 1 back per success), so a
 * warm container that lived through an outage or two stops retrying at all. Once the SDK gives
 * up, this loop waits and asks again, bounded by time, not by count.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ObjectStore } from "../src/store/types.js";
import { isTransient } from "./classify.js";

/** The first wait after the SDK gave up, doubled each time up to MAX_WAIT_MS. */
const FIRST_WAIT_MS = 250;
const MAX_WAIT_MS = 4000;

/**
 * How long to wait before asking again, or undefined to give up: only a transient error is
 * waited out, and never past the deadline. `random` in [0, 1) spreads the waits of containers
 * that failed together (half the wait fixed, half drawn), so they do not all return at once.
 */
export function nextWait(err: unknown, tries: number, now: number, deadline: number, random: number): number | undefined {
  if (!isTransient(err)) return undefined;
  const cap = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.max(0, tries - 1));
  const wait = Math.round(cap / 2 + (cap / 2) * random);
  return now + wait < deadline ? wait : undefined;
}

export interface DurablePutClock {
  now: () => number;
  sleep: (ms: number) => Promise<unknown>;
  random: () => number;
}

const realClock: DurablePutClock = { now: Date.now, sleep: (ms) => sleep(ms), random: Math.random };

/** Put `body` at `key`, asking again after transient failures until `deadline` (epoch ms); the last error is thrown. */
export async function putDurably(store: ObjectStore, key: string, body: string, deadline: number, clock: DurablePutClock = realClock): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      return await store.put(key, body);
    } catch (err) {
      const wait = nextWait(err, tries, clock.now(), deadline, clock.random());
      if (wait === undefined) throw err;
      await clock.sleep(wait);
    }
  }
}
