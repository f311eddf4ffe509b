import { describe, expect, it } from "vitest";
import { ConfigError, InfraError } from "../../dist/src/errors.js";
import { DEFAULT_RETRY_SETTINGS, decideRetry, failureOf, fatalOf, newRetryState, type Failure, type RetrySettings, type RetryState } from "../../dist/src/exec/policy.js";
import type { ErrorKind, Reply } from "../../dist/src/types.js";

// The retry decision, exactly: jitter fixed at 0 gives the low end of each backoff window
// (d/2 for the nth retry, d = min(cap, base * 2^(n-1))).
const settings: RetrySettings = { ...DEFAULT_RETRY_SETTINGS, retries: 2, retryUserErrors: false, random: () => 0 };

const platform = (kind: ErrorKind, bystander = false): Failure => ({ chunkAtFault: false, bystander, error: { kind, name: "InfraError", message: kind } });
const own = (kind: ErrorKind): Failure => ({ chunkAtFault: true, bystander: false, error: { kind, name: "Error", message: kind, stack: "s" } });
const TIERS = [1024, 3008, 10240];
const used = (s: Partial<RetryState>): RetryState => ({ ...newRetryState(), ...s });

describe("decideRetry", () => {
  const cases: [string, Failure, Partial<RetryState>, Partial<RetrySettings>, ReturnType<typeof decideRetry>][] = [
    ["crash, first retry", platform("crash"), {}, {}, { action: "retry", budget: "retriesUsed", afterMs: 100 }],
    ["crash, second retry", platform("crash"), { retriesUsed: 1 }, {}, { action: "retry", budget: "retriesUsed", afterMs: 200 }],
    ["crash, --retries spent", platform("crash"), { retriesUsed: 2 }, {}, { action: "fail", error: platform("crash").error }],
    ["oom and timeout are charged too", platform("oom"), { retriesUsed: 1 }, {}, { action: "retry", budget: "retriesUsed", afterMs: 200 }],
    ["charged backoff is capped", platform("timeout"), { retriesUsed: 9 }, { retries: 20 }, { action: "retry", budget: "retriesUsed", afterMs: 15_000 }],
    ["throttled: requeued, never charged", platform("throttled"), { retriesUsed: 2, outagesUsed: 10 }, { retries: 2 }, { action: "throttled" }],
    ["throttled with no retries at all: still requeued", platform("throttled"), {}, { retries: 0 }, { action: "throttled" }],
    ["outage: own budget", platform("transient"), { outagesUsed: 0 }, { retries: 0 }, { action: "retry", budget: "outagesUsed", afterMs: 250 }],
    ["outage: capped at 10 s", platform("transient"), { outagesUsed: 9 }, { retries: 0 }, { action: "retry", budget: "outagesUsed", afterMs: 5000 }],
    ["outage past 10: charged", platform("transient"), { outagesUsed: 10, retriesUsed: 1 }, {}, { action: "retry", budget: "retriesUsed", afterMs: 200 }],
    ["bystander: rerun isolated, free", platform("crash", true), { retriesUsed: 2 }, {}, { action: "rerun-isolated" }],
    ["a 429 never started the chunk: not a bystander", platform("throttled", true), {}, {}, { action: "throttled" }],
    ["bystander past 3 reruns: charged", platform("oom", true), { isolatedReruns: 3 }, {}, { action: "retry", budget: "retriesUsed", afterMs: 100 }],
    ["cancelled: requeue, whatever is spent", platform("cancelled"), { retriesUsed: 2 }, {}, { action: "requeue" }],
    ["platform serialize: never retried", platform("serialize"), {}, {}, { action: "fail", error: platform("serialize").error }],
    ["user error: fails", own("user"), {}, {}, { action: "fail", error: own("user").error }],
    ["user error with --retry-user-errors", own("user"), { retriesUsed: 1 }, { retryUserErrors: true }, { action: "retry", budget: "retriesUsed", afterMs: 200 }],
    ["user error, --retries spent", own("user"), { retriesUsed: 2 }, { retryUserErrors: true }, { action: "fail", error: own("user").error }],
    ["own serialize error: never retried", own("serialize"), {}, { retryUserErrors: true }, { action: "fail", error: own("serialize").error }],
    // --oom-retry: the tiers are the run's memory, then the larger deployed ones.
    ["oom with --oom-retry: the next tier up, free", platform("oom"), { retriesUsed: 2 }, { oomTiers: TIERS }, { action: "escalate", tier: 1, memoryMb: 3008 }],
    ["oom on the second tier: the third", platform("oom"), { tier: 1 }, { oomTiers: TIERS }, { action: "escalate", tier: 2, memoryMb: 10240 }],
    ["oom on the top tier: charged as without tiers", platform("oom"), { tier: 2 }, { oomTiers: TIERS }, { action: "retry", budget: "retriesUsed", afterMs: 100 }],
    ["oom on the top tier, --retries spent: fails", platform("oom"), { tier: 2, retriesUsed: 2 }, { oomTiers: TIERS }, { action: "fail", error: platform("oom").error }],
    ["oom in a shared process: isolated first, on the same tier", platform("oom", true), {}, { oomTiers: TIERS }, { action: "rerun-isolated" }],
    ["one tier only: oom charged as before", platform("oom"), {}, { oomTiers: [1024] }, { action: "retry", budget: "retriesUsed", afterMs: 100 }],
    ["a crash never climbs tiers", platform("crash"), {}, { oomTiers: TIERS }, { action: "retry", budget: "retriesUsed", afterMs: 100 }],
    ["a timeout never climbs tiers", platform("timeout"), {}, { oomTiers: TIERS }, { action: "retry", budget: "retriesUsed", afterMs: 100 }],
  ];
  it.each(cases)("%s", (_name, failure, state, over, expected) => {
    expect(decideRetry(failure, used(state), { ...settings, ...over })).toEqual(expected);
  });

  it("jitter spreads the delay over [d/2, d)", () => {
    const at = (r: number) => decideRetry(platform("crash"), used({ retriesUsed: 1 }), { ...settings, random: () => r });
    expect([at(0), at(0.5), at(0.999)].map((d) => (d.action === "retry" ? d.afterMs : -1))).toEqual([200, 300, 399.8]);
  });
});

describe("failureOf", () => {
  const replyWith = (error: Reply["error"]): Reply =>
    ({ ok: false, ...(error ? { error } : {}), timing: { startedAt: 0, endedAt: 0, loadMs: 0, coldStart: false } }) as Reply;

  it("a failed reply with the chunk's own error keeps it whole (stack included)", () => {
    const error = { kind: "user" as const, name: "RangeError", message: "m", stack: "at x" };
    expect(failureOf(replyWith(error))).toEqual({ chunkAtFault: true, bystander: false, error });
    expect(failureOf(replyWith({ kind: "serialize", name: "E", message: "m" })).chunkAtFault).toBe(true);
  });

  it("a failed reply with no error is the chunk's fault", () => {
    expect(failureOf(replyWith(undefined))).toEqual({ chunkAtFault: true, bystander: false, error: { kind: "user", name: "Error", message: "chunk failed" } });
  });

  it("a worker-stopped reply (timeout) is a platform failure", () => {
    expect(failureOf(replyWith({ kind: "timeout", name: "TimeoutError", message: "late", stack: "s" }))).toEqual({
      chunkAtFault: false,
      bystander: false,
      error: { kind: "timeout", name: "InfraError", message: "late" },
    });
  });

  it("an InfraError loses its client-side stack and keeps bystander", () => {
    expect(failureOf(new InfraError("crash", "died", { bystander: true }))).toEqual({
      chunkAtFault: false,
      bystander: true,
      error: { kind: "crash", name: "InfraError", message: "died" },
    });
  });
});

describe("fatalOf", () => {
  const replyWith = (index: number, error: Reply["error"]): Reply =>
    ({ index, ok: false, ...(error ? { error } : {}), timing: { startedAt: 0, endedAt: 0, loadMs: 0, coldStart: false } }) as Reply;

  it("a chunk denied its input by the worker's role stops the run, its fix as the hint", () => {
    const denied = { kind: "user" as const, name: "ObjectAccessDeniedError", code: "E_INPUT_DENIED", message: "access denied reading s3://b/logs/a.log — grant the workers read access: fanout deploy --read s3://b/logs/" };
    const err = fatalOf(replyWith(3, denied));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toBe("chunk 3: access denied reading s3://b/logs/a.log");
    expect(err!.hint).toBe("grant the workers read access: fanout deploy --read s3://b/logs/");
    expect(err!.exitCode).toBe(3);
  });

  it("a platform error that names its fatal cause stops the run; other failures do not", () => {
    const cause = new ConfigError("the deployed worker function cannot start", "redeploy");
    expect(fatalOf(new InfraError("crash", "x", { fatal: cause }))).toBe(cause);
    expect(fatalOf(new InfraError("crash", "x"))).toBeUndefined();
    expect(fatalOf(replyWith(0, { kind: "user", name: "Error", message: "boom — not a fix", code: "ENOENT" }))).toBeUndefined();
    expect(fatalOf(replyWith(0, undefined))).toBeUndefined();
  });
});
