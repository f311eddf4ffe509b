import { describe, expect, it } from "vitest";
import { retryAfterMsOf } from "../../dist/src/errors.js";
import { DEFAULT_THROTTLE_SETTINGS, ThrottleController, type ThrottleVerdict } from "../../dist/src/exec/throttle.js";

// The run-wide in-flight limit (AIMD), exactly: a 429 halves it once per window, `limit`
// successes raise it by one, it stays within [1, ceiling]. Jitter fixed at 0: a throttled
// chunk's pause is the low end of its backoff window (d/2, d = min(20 s, 500 ms x 2^(streak-1))).
const settings = { ...DEFAULT_THROTTLE_SETTINGS, random: () => 0 };

/** An event at time t: a success, or a 429 to an attempt sent in window w (with a Retry-After). */
type Event = ["ok", number] | ["429", number, number, number?];

function replay(ceiling: number, events: Event[]): { c: ThrottleController; last?: ThrottleVerdict } {
  const c = new ThrottleController(ceiling, 0, settings);
  let last: ThrottleVerdict | undefined;
  for (const e of events) {
    if (e[0] === "ok") c.onSuccess(e[1]);
    else last = c.on429(e[1], e[2], e[3]);
  }
  return last ? { c, last } : { c };
}

const oks = (n: number, t = 1): Event[] => Array.from({ length: n }, () => ["ok", t]);
const state = (c: ThrottleController) => ({ limit: c.limit, window: c.window, ...c.figures() });

describe("ThrottleController", () => {
  const cases: [string, number, Event[], Partial<ReturnType<typeof state>>, ThrottleVerdict?][] = [
    ["starts at the ceiling", 200, [], { limit: 200, lowest: 200, final: 200, ceiling: 200, throttled: 0, window: 0 }],
    ["a 429 halves the limit", 200, [["429", 5, 0]], { limit: 100, window: 1, throttled: 1 }, { pauseMs: 250, giveUp: false }],
    ["a burst of 429s from one overshoot halves it once", 200, [["429", 5, 0], ["429", 5, 0], ["429", 6, 0]], { limit: 100, window: 1, throttled: 3 }, { pauseMs: 250, giveUp: false }],
    ["a 429 to an attempt sent after the decrease halves again", 200, [["429", 5, 0], ["429", 9, 1]], { limit: 50, window: 2, lowest: 50 }, { pauseMs: 500, giveUp: false }],
    ["odd limits round down", 25, [["429", 1, 0]], { limit: 12 }],
    ["never below 1", 4, [["429", 1, 0], ["429", 2, 1], ["429", 3, 2], ["429", 4, 3]], { limit: 1, lowest: 1, window: 4, throttled: 4 }, { pauseMs: 2000, giveUp: false }],
    ["additive increase: limit - 1 successes are not enough", 10, [["429", 1, 0], ...oks(4)], { limit: 5 }],
    ["additive increase: `limit` successes raise it by one", 10, [["429", 1, 0], ...oks(5)], { limit: 6, lowest: 5, final: 6 }],
    ["then the next step needs the new limit's worth", 10, [["429", 1, 0], ...oks(5), ...oks(5)], { limit: 6 }],
    ["...and gets it", 10, [["429", 1, 0], ...oks(5), ...oks(6)], { limit: 7 }],
    ["a decrease restarts the count", 10, [["429", 1, 0], ...oks(4), ["429", 2, 1], ...oks(2)], { limit: 3 }],
    ["never above the ceiling", 3, oks(100), { limit: 3 }],
    ["a success resets the pause's exponent", 200, [["429", 1, 0], ["429", 2, 1], ["ok", 3], ["429", 4, 2]], { limit: 25 }, { pauseMs: 250, giveUp: false }],
    ["the pause is capped at 20 s (10 s at jitter 0)", 2000, Array.from({ length: 10 }, (_, w): Event => ["429", w, w]), { limit: 1 }, { pauseMs: 10_000, giveUp: false }],
    ["a longer Retry-After is the pause", 200, [["429", 1000, 0, 3000]], {}, { pauseMs: 3000, giveUp: false }],
    ["a shorter Retry-After leaves the backoff", 200, [["429", 1000, 0, 100]], {}, { pauseMs: 250, giveUp: false }],
    ["at 1, 5 minutes without a success: give up", 2, [["429", 10, 0], ["429", 300_010, 1]], { limit: 1 }, { pauseMs: 500, giveUp: true }],
    ["at 1, a moment short of 5 minutes: wait on", 2, [["429", 10, 0], ["429", 300_009, 1]], { limit: 1 }, { pauseMs: 500, giveUp: false }],
    ["a success restarts the 5 minutes", 1, [["ok", 200_000], ["429", 400_000, 0]], { limit: 1 }, { pauseMs: 250, giveUp: false }],
    ["above 1, never give up", 8, [["429", 1, 0], ["429", 400_000, 0]], { limit: 4 }, { pauseMs: 250, giveUp: false }],
    ["--concurrency 1: the 5 minutes run from the start", 1, [["429", 300_000, 0]], { limit: 1, lowest: 1 }, { pauseMs: 250, giveUp: true }],
  ];
  it.each(cases)("%s", (_name, ceiling, events, expected, verdict) => {
    const { c, last } = replay(ceiling, events);
    expect(state(c)).toMatchObject(expected);
    if (verdict) expect(last).toEqual(verdict);
  });

  it("Retry-After holds every invocation until it has passed; a later one extends it, an earlier one does not", () => {
    const c = new ThrottleController(10, 0, settings);
    expect(c.holdMs(0)).toBe(0);
    c.on429(1000, 0, 3000);
    expect([c.notBefore, c.holdMs(1000), c.holdMs(3999), c.holdMs(4000)]).toEqual([4000, 3000, 1, 0]);
    c.on429(2000, 0, 1000);
    expect(c.notBefore).toBe(4000);
    c.on429(2000, 0, 5000);
    expect(c.notBefore).toBe(7000);
  });

  it("onSuccess says when the limit rose (the gate then lets more in)", () => {
    const c = new ThrottleController(4, 0, settings);
    c.on429(1, 0);
    expect([c.onSuccess(2), c.onSuccess(3), c.limit]).toEqual([false, true, 3]);
  });
});

// SDK v3 puts the Retry-After header of Lambda's 429 on TooManyRequestsException as the string
// `retryAfterSeconds` (@aws-sdk/client-lambda, TooManyRequestsException: retryAfterSeconds from
// the "Retry-After" header).
describe("retryAfterMsOf", () => {
  it.each([
    [{ retryAfterSeconds: "2" }, 2000],
    [{ retryAfterSeconds: "0.5" }, 500],
    [{ retryAfterSeconds: "0" }, undefined],
    [{ retryAfterSeconds: "Wed, 21 Oct 2015 07:28:00 GMT" }, undefined],
    [{}, undefined],
    [null, undefined],
    ["TooManyRequestsException", undefined],
  ])("%j -> %s", (err, ms) => {
    expect(retryAfterMsOf(err)).toBe(ms);
  });
});
