import { describe, expect, it } from "vitest";
import { execute, type ExecuteOutcome, type ExecuteParams } from "../../dist/src/exec/executor.js";
import { ChunkFailedError } from "../../dist/src/errors.js";
import { FakeBackend, tasks, type Step } from "./fake-backend.js";

// The executor driven through the Backend contract by a scripted fake: every retry budget,
// speculation, abort and max-failures, with exact counts, in milliseconds (backoff of 1-2 ms).
const FAST = { baseMs: 1, capMs: 2 };
const TUNING: ExecuteParams["tuning"] = {
  retry: { backoff: { retriesUsed: FAST, outagesUsed: FAST } },
  speculation: { floorMs: 40, intervalMs: 10 },
  throttle: { pauseBaseMs: 1, pauseCapMs: 2 },
};

function exec(backend: FakeBackend, n: number, over: Partial<ExecuteParams> = {}): Promise<ExecuteOutcome> {
  return execute({
    backend,
    runId: "r-fake",
    tasks: tasks(n),
    total: n,
    skipped: 0,
    concurrency: 4,
    retries: 0,
    retryUserErrors: false,
    speculate: false,
    tuning: TUNING,
    ...over,
  });
}

/** Chunk `index` follows `steps` attempt by attempt (then replies ok); other chunks reply ok. */
function scripted(index: number, steps: Step[]): FakeBackend {
  return new FakeBackend((i, attempt) => (i === index ? steps[attempt - 1] : undefined));
}

const times = (n: number, step: Step): Step[] => Array.from({ length: n }, () => step);

describe("execute on a FakeBackend", { timeout: 5000 }, () => {
  it("runs every chunk once at the concurrency limit when nothing fails", async () => {
    const backend = new FakeBackend((i) => ({ ok: i * 10, ms: 3 }));
    const out = await exec(backend, 20, { concurrency: 3 });
    expect([...out.values].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: 20 }, (_, i) => [i, i * 10]));
    expect(backend.calls).toHaveLength(20);
    expect(backend.peak).toBe(3);
    expect(out.attempts.every((a) => a.outcome === "ok" && a.won && !a.speculative)).toBe(true);
    expect([out.retries, out.speculated, out.speculationWins, out.failures.size, out.stopped]).toEqual([0, 0, 0, 0, undefined]);
  });

  it("retries crashes on the --retries budget, then fails with the attempts counted", async () => {
    const ok = await exec(scripted(2, times(2, { infra: "crash" })), 4, { retries: 2 });
    expect(ok.values.get(2)).toBe(2);
    expect(ok.retries).toBe(2);
    expect(ok.attempts.filter((a) => a.index === 2).map((a) => [a.attempt, a.outcome, a.won])).toEqual([
      [1, "crash", false],
      [2, "crash", false],
      [3, "ok", true],
    ]);

    const out = await exec(scripted(2, times(3, { infra: "crash" })), 4, { retries: 2 });
    const failure = out.failures.get(2)!;
    expect(failure).toBeInstanceOf(ChunkFailedError);
    expect([failure.remote.kind, failure.attempts, out.retries, out.values.size]).toEqual(["crash", 3, 2, 3]);
    expect(failure.remote.stack).toBeUndefined();
  });

  it("a worker-side timeout in a reply is retried as a platform failure; a plain Error as an outage", async () => {
    const out = await exec(scripted(0, [{ reply: "timeout" }, { throws: "socket hang up" }]), 1, { retries: 1 });
    expect(out.values.get(0)).toBe(0);
    expect(out.attempts.map((a) => a.outcome)).toEqual(["timeout", "transient", "ok"]);
    expect(out.retries).toBe(2);
  });

  it("user errors fail at once unless --retry-user-errors; serialize errors never retry", async () => {
    const once = await exec(scripted(1, times(3, { reply: "user", message: "bad row" })), 2, { retries: 5 });
    expect(once.failures.get(1)!.remote).toEqual({ kind: "user", name: "TypeError", message: "bad row", stack: "at chunk" });
    expect([once.failures.get(1)!.attempts, once.retries]).toEqual([1, 0]);

    const retried = await exec(scripted(1, times(3, { reply: "user" })), 2, { retries: 5, retryUserErrors: true });
    expect([retried.values.get(1), retried.retries, retried.attempts.length]).toEqual([1, 3, 5]);

    const serialize = await exec(scripted(1, [{ reply: "serialize" }]), 2, { retries: 5, retryUserErrors: true });
    expect([serialize.failures.get(1)!.remote.kind, serialize.failures.get(1)!.attempts, serialize.retries]).toEqual(["serialize", 1, 0]);
  });

  it("a throttled chunk is requeued without spending a retry, however often (no per-chunk budget)", async () => {
    const out = await exec(scripted(0, times(20, { infra: "throttled" })), 1, { retries: 0 });
    expect([out.values.get(0), out.retries, out.failures.size, out.attempts.length]).toEqual([0, 0, 0, 21]);
    expect([out.throttle.throttled, out.throttle.ceiling, out.throttle.lowest]).toEqual([20, 4, 1]);
  });

  it("outages have their own budget of 10, then fall to --retries", async () => {
    const over = await exec(scripted(0, times(11, { infra: "transient" })), 1, { retries: 0 });
    expect([over.failures.get(0)!.remote.kind, over.failures.get(0)!.attempts, over.retries]).toEqual(["transient", 11, 10]);

    const charged = await exec(scripted(0, times(11, { infra: "transient" })), 1, { retries: 1 });
    expect([charged.values.get(0), charged.retries, charged.attempts.length]).toEqual([0, 11, 12]);
  });

  it("a bystander to a crash reruns isolated, free, three times; then the crash is charged", async () => {
    const crash: Step = { infra: "crash", bystander: true };
    const backend = scripted(0, times(4, crash));
    const out = await exec(backend, 1, { retries: 1 });
    expect(out.values.get(0)).toBe(0);
    expect(backend.of(0).map((c) => c.isolate)).toEqual([false, true, true, true, true]);
    expect(out.retries).toBe(1);

    const failed = await exec(scripted(0, times(4, crash)), 1, { retries: 0 });
    expect([failed.failures.get(0)!.remote.kind, failed.failures.get(0)!.attempts, failed.retries]).toEqual(["crash", 4, 0]);
  });

  it("a resumed chunk counts its attempts on from where the last run stopped", async () => {
    const backend = scripted(0, []);
    const out = await execute({ ...baseParams(backend), tasks: tasks(1, 3) });
    expect(backend.calls.map((c) => c.attempt)).toEqual([3]);
    expect(out.attempts.map((a) => a.attempt)).toEqual([3]);
  });

  it("copies a straggler; the copy wins and the original is cancelled", async () => {
    const backend = new FakeBackend((i, attempt) => (i === 5 && attempt === 1 ? { hang: true } : { ok: `v${i}`, ms: 2 }));
    const results: number[] = [];
    const out = await exec(backend, 6, { concurrency: 6, speculate: true, onResult: (i) => results.push(i) });
    expect(out.values.get(5)).toBe("v5");
    expect(results.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect([out.speculated, out.speculationWins, out.attempts.length]).toEqual([1, 1, 7]);
    expect(out.attempts.filter((a) => a.index === 5).map((a) => [a.attempt, a.speculative, a.outcome, a.won])).toEqual([
      [1, false, "cancelled", false],
      [2, true, "ok", true],
    ]);
    expect(backend.of(5).map((c) => c.end)).toEqual(["cancelled", "replied"]);
  });

  it("when the original beats its copy, the copy is cancelled, counts no win, and its time is the cost", async () => {
    const backend = new FakeBackend((i, attempt) => (i === 5 ? (attempt === 1 ? { ok: "first", ms: 250 } : { hang: true }) : { ok: i, ms: 2 }));
    const out = await exec(backend, 6, { concurrency: 6, speculate: true });
    expect(out.values.get(5)).toBe("first");
    expect([out.speculated, out.speculationWins]).toEqual([1, 0]);
    expect(backend.of(5).map((c) => c.end)).toEqual(["replied", "cancelled"]);
    const copy = out.attempts.find((a) => a.speculative)!;
    expect(out.speculation).toEqual({ copies: 1, won: 0, lostMs: copy.returnedAt - copy.invokedAt });
    expect(out.speculation.lostMs).toBeGreaterThan(0);
  });

  // Lambda's round trip holds the network, a cold start, the bundle and payload fetch and the
  // result PUT around a map that may take milliseconds: stragglers are judged on round trips.
  it("a fixed 300 ms round trip around 10 ms of map time starts no copies", async () => {
    const backend = new FakeBackend((i) => ({ ok: i, ms: 300, mapMs: 10 }));
    const out = await exec(backend, 12, { concurrency: 4, speculate: true });
    expect([out.values.size, out.speculated, backend.calls.length, out.speculation]).toEqual([12, 0, 12, { copies: 0, won: 0, lostMs: 0 }]);
  });

  it("on the same round trips, a true straggler still gets a copy", async () => {
    const backend = new FakeBackend((i, attempt) => (i === 9 && attempt === 1 ? { hang: true } : { ok: i, ms: 300, mapMs: 10 }));
    const out = await exec(backend, 12, { concurrency: 4, speculate: true });
    expect([out.values.size, out.values.get(9), out.speculated]).toEqual([12, 9, 1]);
    expect(out.speculation).toEqual({ copies: 1, won: 1, lostMs: 0 });
    expect(backend.of(9).map((c) => c.end)).toEqual(["cancelled", "replied"]);
  });

  it("the first result wins when both attempts reply: each chunk is counted once", async () => {
    const backend = new FakeBackend((i, attempt) =>
      i === 5 ? { ok: `attempt ${attempt}`, ms: attempt === 1 ? 150 : 200, ignoreCancel: true } : { ok: i, ms: 2 },
    );
    const results: number[] = [];
    const out = await exec(backend, 6, { concurrency: 6, speculate: true, onResult: (i) => results.push(i) });
    expect(out.values.get(5)).toBe("attempt 1");
    expect(results.filter((i) => i === 5)).toHaveLength(1);
    expect(out.attempts.filter((a) => a.index === 5).map((a) => [a.outcome, a.won])).toEqual([
      ["ok", true],
      ["ok", false],
    ]);
    expect([out.values.size, out.speculated, out.speculationWins]).toEqual([6, 1, 0]);
  });

  it("without --speculate a straggler is never copied", async () => {
    const backend = new FakeBackend((i) => ({ ok: i, ms: i === 5 ? 150 : 2 }));
    const out = await exec(backend, 6, { concurrency: 6 });
    expect([out.speculated, backend.calls.length]).toEqual([0, 6]);
  });

  it("an abort cancels running attempts and dispatches no queued chunk", async () => {
    const backend = new FakeBackend(() => ({ hang: true }));
    const ctl = new AbortController();
    const pending = exec(backend, 6, { concurrency: 2, signal: ctl.signal, retries: 3 });
    await waitFor(() => backend.calls.length === 2);
    ctl.abort();
    const out = await pending;
    expect(out.stopped).toBe("aborted");
    expect(backend.calls.map((c) => [c.index, c.end])).toEqual([
      [0, "cancelled"],
      [1, "cancelled"],
    ]);
    expect([out.attempts.map((a) => a.outcome), out.failures.size, out.values.size, out.retries]).toEqual([["cancelled", "cancelled"], 0, 0, 0]);
  });

  it("an abort during a backoff ends the wait; an abort before the start invokes nothing", async () => {
    const slow = { ...TUNING, throttle: { pauseBaseMs: 60_000, pauseCapMs: 60_000 } };
    const backend = scripted(0, [{ infra: "throttled" }]);
    const ctl = new AbortController();
    const pending = exec(backend, 1, { signal: ctl.signal, tuning: slow });
    await waitFor(() => backend.calls[0]?.end === "rejected");
    ctl.abort();
    const out = await pending;
    expect([out.stopped, backend.calls.length, out.retries, out.failures.size]).toEqual(["aborted", 1, 0, 0]);

    const none = new FakeBackend();
    const early = await exec(none, 3, { signal: AbortSignal.abort() });
    expect([early.stopped, none.calls.length, early.attempts.length]).toEqual(["aborted", 0, 0]);
  });

  it("maxFailures stops dispatch; the chunks not started stay unattempted", async () => {
    const backend = new FakeBackend(() => ({ reply: "user" }));
    const out = await exec(backend, 5, { concurrency: 1, maxFailures: 2 });
    expect(out.stopped).toBe("too-many-failures");
    expect([...out.failures.keys()]).toEqual([0, 1]);
    expect(backend.calls.map((c) => c.index)).toEqual([0, 1]);
  });

  // run/execute.ts passes --max-failures N as maxFailures N + 1: N failures finish the run
  // (partial), the (N + 1)th stops it.
  it("maxFailures 3 (--max-failures 2): two failures run every chunk; a third stops dispatch at once", async () => {
    const failing = (bad: number[]) => new FakeBackend((i) => (bad.includes(i) ? { reply: "user" } : { ok: i }));
    const two = failing([1, 3]);
    const within = await exec(two, 6, { concurrency: 1, maxFailures: 3 });
    expect([within.stopped, [...within.failures.keys()], within.values.size, two.calls.length]).toEqual([undefined, [1, 3], 4, 6]);

    const three = failing([1, 3, 4]);
    const over = await exec(three, 6, { concurrency: 1, maxFailures: 3 });
    expect([over.stopped, [...over.failures.keys()], three.calls.map((c) => c.index)]).toEqual(["too-many-failures", [1, 3, 4], [0, 1, 2, 3, 4]]);
  });

  it("onAttemptFailed hears each attempt that ended without a reply, and the retry waits for it", async () => {
    const backend = scripted(1, [{ infra: "crash" }, { infra: "oom" }]);
    const heard: string[] = [];
    const out = await exec(backend, 3, {
      retries: 2,
      onAttemptFailed: async (task, err) => {
        heard.push(`${task.index}/${task.attempt} ${err.kind} start (calls ${backend.of(1).length})`);
        await new Promise((r) => setTimeout(r, 30));
        heard.push(`${task.index}/${task.attempt} end (calls ${backend.of(1).length})`);
      },
    });
    expect(out.values.get(1)).toBe(1);
    // Each retry is invoked only once the hook for the attempt before it has finished.
    expect(heard).toEqual(["1/1 crash start (calls 1)", "1/1 end (calls 1)", "1/2 oom start (calls 2)", "1/2 end (calls 2)"]);
  });

  it("onSetback hears each attempt that did not win, with the outcome so far, still changing (the retry it leads to counts later)", async () => {
    const backend = scripted(1, [{ infra: "crash" }, { infra: "oom" }]);
    const heard: string[] = [];
    let sofar: { retries: number; attempts: readonly { index: number; won: boolean }[] } | undefined;
    const out = await exec(backend, 3, {
      retries: 2,
      onSetback: (o) => {
        sofar = o;
        heard.push(`retries ${o.retries}, setbacks ${o.attempts.filter((a) => a.returnedAt > 0 && !a.won).length}`);
      },
    });
    expect(out.values.get(1)).toBe(1);
    // Told at each setback, before its retry is counted; the object it was given is the live one.
    expect(heard).toEqual(["retries 0, setbacks 1", "retries 1, setbacks 2"]);
    expect(sofar).toBe(out);
    expect(out.retries).toBe(2);
  });

  it("onStopAttempt tells the loser of a speculative race to stop, by index and attempt, once", async () => {
    const copyWins = new FakeBackend((i, attempt) => (i === 5 && attempt === 1 ? { hang: true } : { ok: i, ms: 2 }));
    const told: [number, number][] = [];
    await exec(copyWins, 6, { concurrency: 6, speculate: true, onStopAttempt: (i, a) => told.push([i, a]) });
    expect(told).toEqual([[5, 1]]);

    const originalWins = new FakeBackend((i, attempt) => (i === 5 ? (attempt === 1 ? { ok: "first", ms: 250 } : { hang: true }) : { ok: i, ms: 2 }));
    const told2: [number, number][] = [];
    await exec(originalWins, 6, { concurrency: 6, speculate: true, onStopAttempt: (i, a) => told2.push([i, a]) });
    expect(told2).toEqual([[5, 2]]);
  });

  it("a chunk failing for good tells its copy still running to stop; an abort tells no one (the run's cancel marker does)", async () => {
    const backend = new FakeBackend((i, attempt) => (i === 2 ? (attempt === 1 ? { reply: "user", ms: 250 } : { hang: true }) : { ok: i, ms: 2 }));
    const told: [number, number][] = [];
    const out = await exec(backend, 4, { concurrency: 4, speculate: true, onStopAttempt: (i, a) => told.push([i, a]) });
    expect([...out.failures.keys()]).toEqual([2]);
    expect(told).toEqual([[2, 2]]);

    const hanging = new FakeBackend(() => ({ hang: true }));
    const ctl = new AbortController();
    const told3: [number, number][] = [];
    const pending = exec(hanging, 3, { concurrency: 3, signal: ctl.signal, onStopAttempt: (i, a) => told3.push([i, a]) });
    await waitFor(() => hanging.calls.length === 3);
    ctl.abort();
    expect((await pending).stopped).toBe("aborted");
    expect(told3).toEqual([]);
  });
});

// Lambda answers an Invoke past the account's (or function's) concurrency with 429
// TooManyRequestsException; new accounts may allow as few as 10. The run must find that limit
// and stay under it, not burn a budget per chunk
// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html,
// https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors).
describe("--oom-retry on a FakeBackend with memory tiers 128, 512, 1024 MB", { timeout: 5000 }, () => {
  /** Chunk 3 runs out of memory below `needs` MB; every other chunk fits the backend's own 128 MB. */
  const needing = (needs: number) => new FakeBackend((i, _attempt, mb) => (i === 3 && mb < needs ? { infra: "oom" } : { ok: i }), undefined, [128, 512, 1024]);
  const tiersOf = (b: FakeBackend, i: number) => b.of(i).map((c) => c.memoryMb);

  it("an OOM chunk reruns on the next tier up and succeeds there, charging no retry", async () => {
    const backend = needing(512);
    const out = await exec(backend, 8, { oomRetry: true });
    expect(out.failures.size).toBe(0);
    expect([...out.values.entries()].sort(([a], [b]) => a - b).map(([, v]) => v)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(tiersOf(backend, 3)).toEqual([128, 512]);
    expect(tiersOf(backend, 2)).toEqual([128]);
    expect(out.retries).toBe(0);
    expect(out.attempts.filter((a) => a.index === 3).map((a) => [a.attempt, a.outcome, a.memoryMb, a.won])).toEqual([
      [1, "oom", undefined, false],
      [2, "ok", 512, true],
    ]);
  });

  it("climbs tier by tier to the one that fits", async () => {
    const backend = needing(1024);
    const out = await exec(backend, 8, { oomRetry: true });
    expect(out.failures.size).toBe(0);
    expect(tiersOf(backend, 3)).toEqual([128, 512, 1024]);
  });

  it("out of memory on the top tier: fails as out of memory once --retries is spent", async () => {
    const backend = needing(4096);
    const out = await exec(backend, 8, { oomRetry: true, retries: 1 });
    expect(tiersOf(backend, 3)).toEqual([128, 512, 1024, 1024]);
    expect(out.failures.get(3)?.remote.kind).toBe("oom");
    expect(out.failures.get(3)?.attempts).toBe(4);
  });

  it("without --oom-retry an OOM is retried on the same memory, as before", async () => {
    const backend = needing(512);
    const out = await exec(backend, 8, { retries: 1 });
    expect(tiersOf(backend, 3)).toEqual([128, 128]);
    expect(out.failures.get(3)?.remote.kind).toBe("oom");
  });

  it("a bystander to an OOM reruns alone on its own tier first, then climbs", async () => {
    const backend = new FakeBackend((i, attempt, mb) => (i === 3 && attempt === 1 ? { infra: "oom", bystander: true } : i === 3 && mb < 512 ? { infra: "oom" } : undefined), undefined, [128, 512, 1024]);
    const out = await exec(backend, 8, { oomRetry: true });
    expect(out.failures.size).toBe(0);
    expect(backend.of(3).map((c) => [c.memoryMb, c.isolate])).toEqual([
      [128, false],
      [128, true],
      [512, true],
    ]);
  });
});

describe("execute against a concurrency quota (AIMD)", { timeout: 10_000 }, () => {
  it("300 chunks at --concurrency 200 on a quota of 10: each finishes once, none fails or is charged, the limit found is near 10", async () => {
    const backend = new FakeBackend((i) => ({ ok: i * 2, ms: 5 }), { capacity: 10 });
    const seen = new Map<number, number>();
    const out = await exec(backend, 300, { concurrency: 200, onResult: (i) => seen.set(i, (seen.get(i) ?? 0) + 1) });
    expect([out.failures.size, out.retries, out.stopped]).toEqual([0, 0, undefined]);
    expect([...out.values].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: 300 }, (_, i) => [i, i * 2]));
    expect([seen.size, [...seen.values()].every((n) => n === 1)]).toEqual([300, true]);
    expect(out.throttle.throttled).toBe(backend.throttled);
    expect(out.throttle.ceiling).toBe(200);
    expect(out.throttle.final).toBeGreaterThanOrEqual(5);
    expect(out.throttle.final).toBeLessThanOrEqual(15);
    expect(out.throttle.lowest).toBeGreaterThanOrEqual(3);
    // One overshoot per halving (200 -> 100 -> ... -> ~10) plus the probes of additive
    // increase: a few hundred 429s, where a budget of 12 per chunk allowed 3,600.
    expect(backend.throttled).toBeLessThan(450);
  });

  it("a Retry-After holds every invocation until it has passed", async () => {
    const backend = new FakeBackend((i) => ({ ok: i, ms: 20 }), { capacity: 2, retryAfterMs: 30 });
    const out = await exec(backend, 8, { concurrency: 8 });
    expect([out.values.size, out.failures.size, out.retries]).toEqual([8, 0, 0]);
    expect(backend.throttled).toBeGreaterThan(0);
    expect(backend.early).toBe(0);
  });

  it("refused at a limit of 1 with nothing accepted for the stall time: the chunks fail as throttled, with the way out", async () => {
    const backend = new FakeBackend(undefined, { capacity: 0 });
    const out = await exec(backend, 2, { concurrency: 4, tuning: { ...TUNING, throttle: { pauseBaseMs: 1, pauseCapMs: 2, stallMs: 50 } } });
    expect([[...out.failures.keys()].sort(), out.retries, out.values.size, out.throttle.final]).toEqual([[0, 1], 0, 0, 1]);
    const failure = out.failures.get(0)!;
    expect([failure.remote.kind, failure.remote.message]).toEqual([
      "throttled",
      "the platform refused every invocation for 0.05 s, even one at a time (last: TooManyRequestsException: Rate Exceeded.)",
    ]);
    expect(failure.hint).toMatch(/^the platform has no concurrency to spare for the function/);
  });
});

function baseParams(backend: FakeBackend): ExecuteParams {
  return { backend, runId: "r-fake", tasks: [], total: 1, skipped: 0, concurrency: 1, retries: 0, retryUserErrors: false, speculate: false, tuning: TUNING };
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 1));
}
