// Detached runs on the emulated AWS stack: `--detach` hands the run to the worker function
// itself (an Event invocation with a driver event), not to a local process. The client can
// die, drivers hand over to their next generation, a dropped handover is taken over through
// the lease by `fanout attach`, and each chunk runs once throughout.
//
// A loopback Lambda proxy sits in front of serverless-offline for the client AND for the
// worker's own Lambda calls (the driver's chunk invocations and its handovers), so the test
// sees every invocation. Lambda answers an Event invocation 202 at once and may drop or
// repeat the event (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html,
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attach } from "fanout";
import { fanout, ROOT } from "./helpers/cli.js";
import { detachThenKill as killedDetach } from "./helpers/detach.js";
import { startLambdaProxy, type LambdaProxy } from "./helpers/lambda-proxy.js";
import type { Emulator } from "../dist/src/compute/aws/emulator.js";

const SUM_0_80 = (79 * 80) / 2;

let emu: Emulator;
let proxy: LambdaProxy;
let env: Record<string, string>;
/** Every invocation the proxy saw: chunk tasks (index, attempt) and driver events (generation). */
const seen: { runId?: string; index?: number; attempt?: number; driver?: number; type?: string }[] = [];

beforeAll(async () => {
  const { startEmulator } = await import("../dist/src/compute/aws/emulator.js");
  const { freePort } = await import("../dist/src/compute/aws/servers.js");
  const lambdaPort = await freePort();
  proxy = await startLambdaProxy(`http://127.0.0.1:${lambdaPort}`, { onInvoke: (t) => seen.push(t) });
  emu = await startEmulator({ stage: `t${process.pid}`, lambdaPort, workerLambdaEndpoint: proxy.url });
  env = {
    FANOUT_EMULATOR: JSON.stringify({ region: emu.region, s3Endpoint: emu.s3Endpoint, lambdaEndpoint: proxy.url, bucket: emu.bucket, functionName: emu.functionName }),
  };
  // For the library's attach in this process.
  process.env.FANOUT_EMULATOR = env.FANOUT_EMULATOR;
}, 120_000);

afterAll(async () => {
  delete process.env.FANOUT_EMULATOR;
  await proxy?.close();
  await emu?.stop();
});

/** An object of the emulated bucket, read as the client reads it. */
async function readObject(key: string): Promise<string | undefined> {
  const { makeS3Client, S3Store } = await import("../dist/src/store/s3.js");
  const client = makeS3Client({ region: emu.region, endpoint: emu.s3Endpoint, credentials: { accessKeyId: emu.accessKeyId, secretAccessKey: emu.secretAccessKey } });
  try {
    return (await new S3Store(client, emu.bucket).getIfExists(key))?.toString("utf8");
  } finally {
    client.destroy();
  }
}

/** When the run's last chunk ended, by the workers' own clocks in the stored results. */
async function lastChunkEnd(runId: string, chunks: number): Promise<number> {
  let end = 0;
  for (let i = 0; i < chunks; i++) end = Math.max(end, JSON.parse((await readObject(`runs/${runId}/results/${i}.json`))!).timing.endedAt);
  return end;
}

/** How often each chunk ran, from the lines the fixture appended to /tmp. */
function countsOf(runId: string, chunks: number): number[] {
  const counts = new Array<number>(chunks).fill(0);
  const file = `/tmp/fanout-t-count-${runId}`;
  for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) counts[Number(line.split(" ")[0])]!++;
  fs.rmSync(file, { force: true });
  return counts;
}

/** The driver generations the proxy saw invoked for the run (Event invocations). */
const generations = (runId: string) => seen.filter((t) => t.runId === runId && t.type === "Event" && t.driver !== undefined).map((t) => t.driver!);

/** The chunk invocations the proxy saw for the run. */
const chunkCalls = (runId: string) => seen.filter((t) => t.runId === runId && t.index !== undefined);

/** Local `fanout drive` processes for the run: there must be none, the driver is in the function. */
function localDrivers(runId: string): string[] {
  const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  return ps.split("\n").filter((l) => l.includes(" drive ") && l.includes(runId));
}

/** `fanout run <job> --backend emulated --detach`, its client SIGKILLed once it printed the run id. */
async function detachThenKill(args: string[], extraEnv: Record<string, string> = {}, job = "test/fixtures/counted-tmp.ts"): Promise<string> {
  return (await killedDetach([job, "--backend", "emulated", "--detach", "--no-speculate", ...args], { ...env, ...extraEnv })).runId;
}

/** Invoke the function synchronously with a driver event, as a duplicate or late delivery would arrive; its answer. */
async function driverEventNow(runId: string, generation: number): Promise<unknown> {
  const res = await fetch(`${proxy.url}/2015-03-31/functions/${emu.functionName}/invocations`, {
    method: "POST",
    body: JSON.stringify({ driver: { runId, generation, bucket: emu.bucket } }),
  });
  return res.json();
}

describe("detached runs on the emulated stack: the driver is the worker function", () => {
  it("detach, SIGKILL the client, attach from a new process: exact answer, each chunk once, no local driver", async () => {
    const runId = await detachThenKill([]);
    expect(localDrivers(runId)).toEqual([]);
    // The lease is held by a Lambda invocation (generation 1), not by a process of this machine.
    const lease = JSON.parse((await readObject(`runs/${runId}/lease`))!);
    expect(lease.generation).toBe(1);
    expect(lease.holder.lambda).toBeTruthy();
    const r = await fanout(["attach", runId, "--backend", "emulated", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const { result, summary } = JSON.parse(r.stdout);
    expect(result).toBe(SUM_0_80);
    expect(summary.succeeded).toBe(8);
    expect(countsOf(runId, 8)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // One driver event (generation 1), and each chunk invoked once, through the function's own Lambda calls.
    expect(generations(runId)).toEqual([1]);
    expect(chunkCalls(runId).map((t) => t.index!).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(localDrivers(runId)).toEqual([]);
  }, 120_000);

  it("a driver forced to hand over every 2 s: generations follow one another, exact answer, each chunk once, the whole run's summary", async () => {
    const runId = await detachThenKill(["--chunks", "16"], { FANOUT_DRIVER_HANDOVER_MS: "2000" });
    // The client printed the run id once generation 1 held the lease: it started before this.
    const detachedAt = Date.now();
    const res = await attach<number>(runId, { cwd: ROOT, backend: "emulated" });
    expect(res.result).toBe(SUM_0_80);
    // The summary is the whole run's, as if one client had run it, not its last generation's.
    const report = `/tmp/fanout-t-report-${runId}.html`;
    const printed = await fanout(["attach", runId, "--backend", "emulated", "--json", "--report", report], { env });
    expect(printed.code, printed.stderr).toBe(0);
    // attach's report draws every generation's attempts: one ok bar per chunk.
    const html = fs.readFileSync(report, "utf8");
    fs.rmSync(report, { force: true });
    expect(html).toMatch(/data-attempts="16"/);
    expect([...html.matchAll(/data-testid="bar" data-outcome="ok"[^>]*data-index="(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b)).toEqual([...Array(16).keys()]);
    const { summary } = JSON.parse(printed.stdout);
    expect(summary.succeeded).toBe(16);
    expect(summary.skipped).toBe(0);
    expect(summary.failed).toBe(0);
    expect(summary.retries).toBe(0);
    // Attempts the handovers stopped before they reached Lambda are no part of the run.
    expect(summary.stoppedEarly ?? 0).toBe(0);
    expect(summary.wallMs).toBeGreaterThanOrEqual((await lastChunkEnd(runId, 16)) - detachedAt);
    // Every generation's attempts (for attach's report): one winner per chunk.
    expect(res.attempts.filter((a) => a.won).map((a) => a.index).sort((a, b) => a - b)).toEqual([...Array(16).keys()]);
    expect(countsOf(runId, 16)).toEqual(new Array(16).fill(1));
    // 16 one-second chunks two at a time take about 8 s: at least three generations drove it.
    const gens = generations(runId);
    expect(gens.length).toBeGreaterThanOrEqual(3);
    expect(gens).toEqual(gens.map((_, i) => i + 1));
    expect(chunkCalls(runId).length).toBe(16);
  }, 120_000);

  it("a handover lost on the way (the next driver never runs): attach takes over through the lease, stale drivers are refused", async () => {
    proxy.setOptions({ dropEvents: (t) => t.driver === 2 });
    try {
      const runId = await detachThenKill(["--chunks", "16"], { FANOUT_DRIVER_HANDOVER_MS: "2000" });
      // Generation 1 hands over after 2 s and its successor is lost: the run is left without a driver.
      while (proxy.stats.eventsDropped === 0) await new Promise((r) => setTimeout(r, 100));
      const r = await fanout(["attach", runId, "--backend", "emulated", "--json"], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`run ${runId}'s driver was gone: a new one \\(the worker function, driver generation 3\\) goes on with it`));
      expect(JSON.parse(r.stdout).result).toBe(SUM_0_80);
      // The whole run's summary: generation 1's chunks count as succeeded by the run, none skipped.
      expect(JSON.parse(r.stdout).summary).toMatchObject({ succeeded: 16, skipped: 0, failed: 0 });
      expect(countsOf(runId, 16)).toEqual(new Array(16).fill(1));
      // Generation 1 invited generation 2 again while it had not claimed the run (all lost here), then attach's 3 claimed it.
      const gens = generations(runId);
      expect(gens.filter((g) => g !== 2)).toEqual([1, 3]);
      expect(gens.filter((g) => g === 2).length).toBeGreaterThanOrEqual(2);
      expect(chunkCalls(runId).length).toBe(16);
      // The lost generation 2, delivered late once the run has ended, finds nothing to drive.
      expect(await driverEventNow(runId, 2)).toEqual({ driver: "not-running" });
    } finally {
      proxy.setOptions({ dropEvents: undefined });
    }
  }, 120_000);

  // Lambda may lose an async event ("How Lambda handles errors and retries with asynchronous
  // invocation", https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html:
  // "events might also be deleted from the queue without being sent to the function"): a
  // handing-over driver invites its successor again until it claims the run.
  it("a handover whose first delivery is lost: the driver invites its successor again, which goes on without attach", async () => {
    let lost = 0;
    proxy.setOptions({ dropEvents: (t) => t.driver === 2 && lost++ === 0 });
    try {
      const runId = await detachThenKill(["--chunks", "16"], { FANOUT_DRIVER_HANDOVER_MS: "2000" });
      // No attach until the drivers alone have finished the run.
      for (let i = 0; i < 600 && JSON.parse((await readObject(`runs/${runId}/manifest.json`))!).status === "running"; i++) await new Promise((r) => setTimeout(r, 100));
      expect(JSON.parse((await readObject(`runs/${runId}/manifest.json`))!).status).toBe("succeeded");
      expect(proxy.stats.eventsDropped).toBeGreaterThanOrEqual(1);
      const gens = generations(runId);
      // Generation 2 was sent twice (the first lost), then each generation once, in order.
      expect(gens.slice(0, 3)).toEqual([1, 2, 2]);
      expect(gens.slice(2)).toEqual(gens.slice(2).map((_, i) => i + 2));
      const r = await fanout(["attach", runId, "--backend", "emulated", "--json"], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/driver was gone/);
      expect(JSON.parse(r.stdout).result).toBe(SUM_0_80);
      expect(countsOf(runId, 16)).toEqual(new Array(16).fill(1));
      expect(chunkCalls(runId).length).toBe(16);
    } finally {
      proxy.setOptions({ dropEvents: undefined });
    }
  }, 120_000);

  it("a driver that dies mid-run with chunks in flight: attach takes over through the lease, waits for those chunks, runs each chunk once", async () => {
    // The driver's container dies 2.5 s in (a test setting): it stops without a word, while the
    // two 12 s chunks it invoked run on in their own invocations, as on Lambda, well past the
    // moment its lease goes stale and attach starts a successor.
    const runId = await detachThenKill(["--chunks", "4"], { FANOUT_DRIVER_DIE_MS: "2500" }, "test/fixtures/counted-slow-tmp.ts");
    await new Promise((r) => setTimeout(r, 3000));
    const lease = JSON.parse((await readObject(`runs/${runId}/lease`))!);
    expect(lease.generation).toBe(1);
    expect(lease.inFlight.map((c: { index: number }) => c.index).sort()).toEqual([0, 1]);
    const r = await fanout(["attach", runId, "--backend", "emulated", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`run ${runId}'s driver was gone: a new one \\(the worker function, driver generation 2\\) goes on with it`));
    expect(JSON.parse(r.stdout).result).toBe(SUM_0_80);
    // The dead driver wrote no attempt log past its start: its chunks' wins come from their stored results.
    expect(JSON.parse(r.stdout).summary).toMatchObject({ succeeded: 4, skipped: 0, failed: 0 });
    // The chunks the dead driver left in flight finished once, and were not started again.
    expect(countsOf(runId, 4)).toEqual([1, 1, 1, 1]);
    expect(chunkCalls(runId).map((t) => t.index).sort()).toEqual([0, 1, 2, 3]);
    expect(generations(runId)).toEqual([1, 2]);
  }, 120_000);

  it("fanout cancel reaches the driver in the function: the run ends aborted, attach says so, no driver takes it up again", async () => {
    const runId = await detachThenKill(["--chunks", "4"], {}, "test/fixtures/counted-slow-tmp.ts");
    await new Promise((r) => setTimeout(r, 1500));
    const c = await fanout(["cancel", runId, "--backend", "emulated"], { env });
    expect(c.code, c.stderr).toBe(0);
    const t0 = Date.now();
    const r = await fanout(["attach", runId, "--backend", "emulated"], { env });
    // Two 12 s chunks were running: the driver stopped well before they would have ended.
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(new RegExp(`run ${runId} was cancelled`));
    expect(r.stderr).not.toMatch(/driver was gone/);
    expect(generations(runId)).toEqual([1]);
    fs.rmSync(`/tmp/fanout-t-count-${runId}`, { force: true });
  }, 120_000);

  it("a stale or duplicate driver event is refused by the lease while the run goes on", async () => {
    const runId = await detachThenKill(["--chunks", "8"]);
    // Generation 1 holds the lease: a second delivery of its event, and an older one, are refused.
    expect(await driverEventNow(runId, 1)).toEqual({ driver: "refused" });
    expect(await driverEventNow(runId, 0)).toEqual({ driver: "refused" });
    const r = await fanout(["attach", runId, "--backend", "emulated", "--json"], { env });
    expect(JSON.parse(r.stdout).result).toBe(SUM_0_80);
    expect(countsOf(runId, 8)).toEqual(new Array(8).fill(1));
  }, 120_000);
});
