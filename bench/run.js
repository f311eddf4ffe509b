#!/usr/bin/env node
// fanout benchmarks: `npm run bench` (after `npm run build`; built here if dist/ is missing).
//
//   node bench/run.js                 every case, then bench/RESULTS.md
//   node bench/run.js --only a,e      some cases (a b c d e)
//   node bench/run.js --quick         smaller sizes, for trying the script out
//
// Every figure is a ratio measured in the same run: fanout against faast.js, against the
// same map run sequentially in one process, against the ideal wall time, or against a
// straggler-free run. Each measurement runs in a fresh child process (`--case <name>`), so
// one case's heap, module cache, environment and worker pool cannot skew the next.
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = path.join(ROOT, "bench", "out");
const STORE = path.join(OUT, "store");
const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
const RESULT_TAG = "@@BENCH_RESULT ";
const dist = (p) => pathToFileURL(path.join(ROOT, "dist", p)).href;

// Sizes (the --quick values in the second column).
const SIZES = {
  noopChunks: QUICK ? 20_000 : 100_000,
  noopConcurrency: 5000,
  faastCalls: QUICK ? 5000 : 20_000,
  faastConcurrency: 4,
  piSamples: QUICK ? 1e8 : 2e9,
  cpuChunks: 32,
  sleepChunks: 360,
  sleepMs: 2000,
  stragglerItems: 200,
  stragglerConcurrency: 20,
  stragglerBaseMs: 100,
  stragglerSlowMs: 1000,
  stragglerFraction: 0.05,
  dispatchCalls: QUICK ? 1000 : 5000,
  dispatchConcurrency: 64,
};

// ---------------------------------------------------------------------------------------
// Cases: each runs in its own child process and returns a plain object.
// ---------------------------------------------------------------------------------------

const cases = {
  /** a. no-op chunks through the whole local path: bundle, plan, store, pool, executor, reduce. */
  async noop() {
    const { run } = await import(dist("src/index.js"));
    const res = await run(path.join(ROOT, "bench/jobs/noop.ts"), {
      chunks: SIZES.noopChunks,
      concurrency: SIZES.noopConcurrency,
      speculate: false,
      store: STORE,
      cwd: ROOT,
    });
    if (res.result !== SIZES.noopChunks) throw new Error(`noop reduce gave ${res.result}, expected ${SIZES.noopChunks}`);
    const span = execSpan(res.attempts);
    return {
      chunks: SIZES.noopChunks,
      wallMs: res.summary.wallMs,
      execMs: span,
      perSecExec: SIZES.noopChunks / (span / 1000),
      perSecWall: SIZES.noopChunks / (res.summary.wallMs / 1000),
    };
  },

  /** a. faast.js local mode: no-op calls at concurrency 4, timed around the calls only. */
  async faast() {
    const { faast } = await import("faastjs");
    const mod = await import(pathToFileURL(path.join(ROOT, "bench/faast-noop.mjs")).href);
    const t0 = performance.now();
    const m = await faast("local", mod, { concurrency: SIZES.faastConcurrency });
    const initMs = performance.now() - t0;
    let next = 0;
    const caller = async () => {
      while (next < SIZES.faastCalls) {
        next++;
        await m.functions.noop();
      }
    };
    const s = performance.now();
    // More callers than faast's concurrency: its own limiter is what bounds the calls in flight.
    await Promise.all(Array.from({ length: 64 }, caller));
    const callsMs = performance.now() - s;
    const c = performance.now();
    await m.cleanup();
    return {
      calls: SIZES.faastCalls,
      concurrency: SIZES.faastConcurrency,
      initMs,
      callsMs,
      cleanupMs: performance.now() - c,
      perSec: SIZES.faastCalls / (callsMs / 1000),
    };
  },

  /** b. CPU-bound: examples/pi.ts sequentially in one process vs on the local pool. */
  async cpu() {
    const { runSequential, deepEqual } = await import(dist("src/bench/sequential.js"));
    const { run } = await import(dist("src/index.js"));
    const job = path.join(ROOT, "examples/pi.ts");
    const seq = await runSequential(job, { chunks: SIZES.cpuChunks, cwd: ROOT });
    const res = await run(job, { chunks: SIZES.cpuChunks, store: STORE, cwd: ROOT });
    const cores = os.availableParallelism();
    const speedup = seq.wallMs / res.summary.wallMs;
    return {
      samples: SIZES.piSamples,
      chunks: SIZES.cpuChunks,
      cores,
      sequentialMs: seq.wallMs,
      sequentialChunkSumMs: seq.sumChunkMs,
      parallelMs: res.summary.wallMs,
      parallelChunkSumMs: res.summary.sumChunkMs,
      equal: deepEqual(seq.result, res.result),
      speedup,
      perCore: speedup / cores,
    };
  },

  /**
   * c. 360 chunks that each wait 2 s, all in flight at once, against the same job with one
   * chunk ("the time of one") and against the ideal 2 s. `backend` "emulated" starts the
   * emulated stack first, as a deployed stack would already be running, so neither side
   * pays for the emulator's own start.
   */
  async sleep() {
    const { run } = await import(dist("src/index.js"));
    const backend = process.env.FANOUT_BENCH_BACKEND ?? "local";
    let emu;
    if (backend === "emulated") {
      const { startEmulator } = await import(dist("src/compute/aws/emulator.js"));
      emu = await startEmulator({ stage: "bench" });
      process.env.FANOUT_EMULATOR = JSON.stringify(emu);
    }
    try {
      const once = async (n) => {
        process.env.FANOUT_SLEEP_ITEMS = String(n);
        const res = await run(path.join(ROOT, "examples/sleep.ts"), {
          backend,
          chunks: n,
          concurrency: n,
          speculate: false,
          store: STORE,
          cwd: ROOT,
          signal: AbortSignal.timeout(150_000),
        });
        return { wallMs: res.summary.wallMs, execMs: execSpan(res.attempts), coldStarts: res.summary.coldStarts };
      };
      const one = await once(1);
      const all = await once(SIZES.sleepChunks);
      return {
        available: true,
        chunks: SIZES.sleepChunks,
        idealMs: SIZES.sleepMs,
        oneMs: one.wallMs,
        wallMs: all.wallMs,
        execMs: all.execMs,
        coldStarts: all.coldStarts,
        ratio: all.wallMs / SIZES.sleepMs,
        vsOne: all.wallMs / one.wallMs,
      };
    } catch (err) {
      return { available: false, reason: oneLine(err) };
    } finally {
      await emu?.stop();
    }
  },

  /**
   * d. DISPATCH RATE TO A LOOPBACK LAMBDA ENDPOINT — TO BE FINISHED WITH THE AWS BACKEND.
   * A fake Lambda Invoke API on 127.0.0.1 answers every invoke at once with a valid reply,
   * so only the client side is measured: a bare SDK invoke loop, then fanout's AWS backend
   * `invoke()` at the same concurrency. The fanout half is skipped, with the reason printed,
   * while dist/src/compute/aws/lambda.js cannot open a backend against the loopback endpoint.
   */
  async dispatch() {
    const server = await startFakeLambda();
    const endpoint = `http://127.0.0.1:${server.port}`;
    const out = { calls: SIZES.dispatchCalls, concurrency: SIZES.dispatchConcurrency };
    try {
      const { LambdaClient, InvokeCommand } = await import("@aws-sdk/client-lambda");
      const { NodeHttpHandler } = await import("@smithy/node-http-handler");
      const { Agent } = await import("node:http");
      // Same socket pool as the backend gets (the SDK default of 50 would cap concurrency 64).
      const client = new LambdaClient({
        region: "us-east-1",
        endpoint,
        credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
        maxAttempts: 1,
        requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: SIZES.dispatchConcurrency }) }),
      });
      const task = fakeTask(0);
      await client.send(new InvokeCommand({ FunctionName: "fanout-bench", Payload: Buffer.from(JSON.stringify(task)) }));
      const sdkMs = await timedLoop(SIZES.dispatchCalls, SIZES.dispatchConcurrency, (i) =>
        client.send(new InvokeCommand({ FunctionName: "fanout-bench", Payload: Buffer.from(JSON.stringify(fakeTask(i))) })),
      );
      client.destroy();
      out.sdkPerSec = SIZES.dispatchCalls / (sdkMs / 1000);
      let aws;
      try {
        aws = await import(dist("src/compute/aws/lambda.js"));
      } catch (err) {
        out.fanout = { available: false, reason: `cannot import dist/src/compute/aws/lambda.js: ${oneLine(err)}` };
        return out;
      }
      let backend;
      try {
        if (typeof aws.AwsBackend === "function") {
          // The backend class itself, pointed at the loopback endpoint: no stack discovery.
          backend = new aws.AwsBackend(
            "aws",
            { region: "us-east-1", functionName: "fanout-bench", bucket: "fanout-bench", lambdaEndpoint: endpoint, s3Endpoint: endpoint, credentials: { accessKeyId: "bench", secretAccessKey: "bench" } },
            1024,
            SIZES.dispatchConcurrency,
          );
        } else if (typeof aws.openAwsBackend !== "function") {
          out.fanout = { available: false, reason: "dist/src/compute/aws/lambda.js exports neither AwsBackend nor openAwsBackend" };
          return out;
        } else backend = await aws.openAwsBackend({
          backend: "aws",
          cwd: ROOT,
          memoryMb: 1024,
          concurrency: SIZES.dispatchConcurrency,
          aws: { region: "us-east-1", functionName: "fanout-bench", bucket: "fanout-bench", lambdaEndpoint: endpoint, s3Endpoint: endpoint },
        });
      } catch (err) {
        out.fanout = { available: false, reason: `opening the AWS backend: ${oneLine(err)}` };
        return out;
      }
      try {
        await backend.invoke(fakeTask(0));
        const ms = await timedLoop(SIZES.dispatchCalls, SIZES.dispatchConcurrency, (i) => backend.invoke(fakeTask(i)));
        out.fanout = { available: true, perSec: SIZES.dispatchCalls / (ms / 1000) };
        out.ratio = out.fanout.perSec / out.sdkPerSec;
      } catch (err) {
        out.fanout = { available: false, reason: `invoke: ${oneLine(err)}` };
      } finally {
        await backend.close();
      }
      return out;
    } finally {
      server.close();
    }
  },

  /** e. stragglers: one variant per process (FANOUT_STRAGGLER_* and BENCH_SPECULATE). */
  async straggler() {
    const { run } = await import(dist("src/index.js"));
    const speculate = process.env.BENCH_SPECULATE === "1";
    const res = await run(path.join(ROOT, "bench/jobs/straggler.ts"), {
      chunks: SIZES.stragglerItems,
      concurrency: SIZES.stragglerConcurrency,
      speculate,
      store: STORE,
      cwd: ROOT,
    });
    if (res.result !== SIZES.stragglerItems) throw new Error(`straggler reduce gave ${res.result}`);
    return { speculate, fraction: Number(process.env.FANOUT_STRAGGLER_FRACTION), wallMs: res.summary.wallMs, execMs: execSpan(res.attempts), speculated: res.summary.speculated, wins: res.summary.speculationWins };
  },
};

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/** First invoke to last reply: the execution, without bundling, planning and pool start-up. */
function execSpan(attempts) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of attempts) {
    if (a.invokedAt < lo) lo = a.invokedAt;
    if (a.returnedAt > hi) hi = a.returnedAt;
  }
  return Math.max(1, hi - lo);
}

function oneLine(err) {
  return String(err?.message ?? err).split("\n")[0].slice(0, 300);
}

async function timedLoop(n, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  const s = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - s;
}

function fakeTask(index) {
  return {
    v: 1,
    runId: "20260101T000000Z-bench0",
    count: SIZES.dispatchCalls,
    bundle: { key: "bundles/0.mjs", sha256: "0" },
    export: "default",
    timeoutMs: 60_000,
    inlineLimit: 262144,
    index,
    attempt: 1,
    source: { kind: "inline", value: null },
  };
}

/** A Lambda Invoke API that replies at once with a successful fanout envelope. */
async function startFakeLambda() {
  const http = await import("node:http");
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let task = {};
      try {
        task = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {}
      const now = Date.now();
      const body = JSON.stringify({
        v: 1,
        runId: task.runId,
        index: task.index,
        attempt: task.attempt,
        ok: true,
        timing: { startedAt: now, endedAt: now, loadMs: 0, coldStart: false },
        logs: [],
        worker: { platform: "lambda", id: "loopback", memoryMb: 1024 },
        bytes: 0,
      });
      res.writeHead(200, { "content-type": "application/json", "x-amz-executed-version": "$LATEST", "x-amzn-requestid": String(now) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { port: server.address().port, close: () => server.close() };
}

// ---------------------------------------------------------------------------------------
// child mode: run one case, print its result, exit (faast.js otherwise lingers ~10 s)
// ---------------------------------------------------------------------------------------

function runCase(name, env = {}, timeoutMs = 300_000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--case", name, ...(QUICK ? ["--quick"] : [])], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL"); // the case and the worker processes it started
      } catch {}
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith(RESULT_TAG));
      if (line) return resolve(JSON.parse(line.slice(RESULT_TAG.length)));
      resolve({ error: signal ? `killed (${signal}) after ${timeoutMs / 1000} s` : `exit ${code}: ${oneLine(err.trim().split("\n").slice(-1)[0] ?? "")}` });
    });
  });
}

const f0 = (v) => (v === undefined || !Number.isFinite(v) ? "–" : Math.round(v).toLocaleString("en-US"));
const f2 = (v) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(2));
const ms = (v) => (v === undefined || !Number.isFinite(v) ? "–" : v < 10_000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`);

async function main() {
  const only = (() => {
    const i = args.indexOf("--only");
    return i >= 0 ? new Set(args[i + 1].split(",")) : new Set(["a", "b", "c", "d", "e"]);
  })();
  if (!fs.existsSync(path.join(ROOT, "dist/src/index.js"))) {
    console.log("dist/ is missing: building first (npm run build)");
    execFileSync(process.execPath, [path.join(ROOT, "scripts/build.js")], { cwd: ROOT, stdio: "inherit" });
  }
  fs.mkdirSync(OUT, { recursive: true });
  fs.rmSync(STORE, { recursive: true, force: true });
  const started = new Date();
  const load0 = os.loadavg();
  const t0 = Date.now();
  const rows = []; // [case, measurement, fanout, reference, ratio]
  const log = (s) => console.log(s);
  log(`fanout bench · ${os.cpus()[0]?.model ?? "cpu"} · ${os.availableParallelism()} cores · node ${process.version}${QUICK ? " · QUICK sizes" : ""}`);

  if (only.has("a")) {
    log(`\na. no-op chunks: fanout ${SIZES.noopChunks.toLocaleString()} chunks at concurrency ${SIZES.noopConcurrency} vs faast.js local ${SIZES.faastCalls.toLocaleString()} calls at concurrency ${SIZES.faastConcurrency}`);
    const n = await runCase("noop");
    if (n.error) log(`  fanout: error: ${n.error}`);
    else log(`  fanout: ${f0(n.perSecExec)} chunks/s over the execution (${ms(n.execMs)}), ${f0(n.perSecWall)} chunks/s over the whole run (wall ${ms(n.wallMs)})`);
    const fa = await runCase("faast");
    if (fa.error) log(`  faast.js: error: ${fa.error}`);
    else log(`  faast.js local: ${f0(fa.perSec)} calls/s (calls ${ms(fa.callsMs)}; init ${ms(fa.initMs)}, cleanup ${ms(fa.cleanupMs)} not counted)`);
    rows.push(["a", "no-op chunks/s, execution", f0(n.perSecExec), `faast.js ${f0(fa.perSec)} calls/s`, `${f2(n.perSecExec / fa.perSec)}x`]);
    rows.push(["a", "no-op chunks/s, whole run (wall)", f0(n.perSecWall), `faast.js ${f0(fa.perSec)} calls/s`, `${f2(n.perSecWall / fa.perSec)}x`]);
  }

  if (only.has("b")) {
    log(`\nb. CPU-bound: examples/pi.ts, ${SIZES.piSamples.toExponential()} samples in ${SIZES.cpuChunks} chunks: sequential in one process vs the local pool`);
    const c = await runCase("cpu", { FANOUT_PI_SAMPLES: String(SIZES.piSamples) });
    if (c.error) log(`  error: ${c.error}`);
    else log(`  sequential ${ms(c.sequentialMs)} · local ${ms(c.parallelMs)} · speedup ${f2(c.speedup)}x on ${c.cores} cores = ${f2(c.perCore)} per core · results ${c.equal ? "equal" : "DIFFERENT"}`);
    rows.push(["b", `CPU speedup vs sequential (${c.cores ?? "?"} cores)`, `${f2(c.speedup)}x`, `ideal ${c.cores ?? "?"}x`, `${f2(c.perCore)} per core`]);
  }

  if (only.has("c")) {
    log(`\nc. ${SIZES.sleepChunks} chunks that each wait ${SIZES.sleepMs / 1000} s, concurrency ${SIZES.sleepChunks}`);
    for (const backend of ["local", "emulated"]) {
      const r = await runCase("sleep", { FANOUT_SLEEP_MS: String(SIZES.sleepMs), FANOUT_BENCH_BACKEND: backend }, 200_000);
      if (r.error || !r.available) {
        log(`  ${backend}: unavailable: ${r.error ?? r.reason}`);
        rows.push(["c", `${SIZES.sleepChunks} x ${SIZES.sleepMs / 1000} s waits, ${backend}`, "unavailable", "–", "–"]);
        continue;
      }
      log(`  ${backend}: ${SIZES.sleepChunks} chunks: wall ${ms(r.wallMs)} (execution ${ms(r.execMs)}) · one chunk: wall ${ms(r.oneMs)} · ideal ${ms(r.idealMs)}`);
      rows.push(["c", `${SIZES.sleepChunks} x ${SIZES.sleepMs / 1000} s waits, ${backend}: wall vs one chunk`, ms(r.wallMs), `one chunk ${ms(r.oneMs)}`, `${f2(r.vsOne)}x`]);
      rows.push(["c", `${SIZES.sleepChunks} x ${SIZES.sleepMs / 1000} s waits, ${backend}: wall vs ideal`, ms(r.wallMs), `ideal ${ms(r.idealMs)}`, `${f2(r.ratio)}x`]);
    }
  }

  if (only.has("d")) {
    log(`\nd. client dispatch to a loopback Lambda endpoint, ${SIZES.dispatchCalls} invokes at concurrency ${SIZES.dispatchConcurrency}`);
    // Dummy keys for the loopback fake only: no real AWS account is touched or looked up.
    const d = await runCase("dispatch", { AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench", AWS_REGION: "us-east-1", AWS_PROFILE: "" });
    if (d.error) log(`  error: ${d.error}`);
    else {
      log(`  bare SDK invoke loop: ${f0(d.sdkPerSec)} invokes/s`);
      log(d.fanout?.available ? `  fanout AWS backend: ${f0(d.fanout.perSec)} invokes/s (${f2(d.ratio)}x the SDK loop)` : `  fanout AWS backend: skipped: ${d.fanout?.reason}`);
    }
    rows.push(["d", "dispatch to loopback Lambda, invokes/s", d.fanout?.available ? f0(d.fanout.perSec) : "skipped", `bare SDK ${f0(d.sdkPerSec)}/s`, d.fanout?.available ? `${f2(d.ratio)}x` : "–"]);
  }

  if (only.has("e")) {
    const ideal = (SIZES.stragglerItems / SIZES.stragglerConcurrency) * SIZES.stragglerBaseMs;
    log(`\ne. stragglers: ${SIZES.stragglerItems} chunks of ${SIZES.stragglerBaseMs} ms at concurrency ${SIZES.stragglerConcurrency}; ${SIZES.stragglerFraction * 100}% take ${SIZES.stragglerSlowMs} ms on their first attempt`);
    const env = (fraction, spec) => ({
      FANOUT_STRAGGLER_ITEMS: String(SIZES.stragglerItems),
      FANOUT_STRAGGLER_BASE_MS: String(SIZES.stragglerBaseMs),
      FANOUT_STRAGGLER_SLOW_MS: String(SIZES.stragglerSlowMs),
      FANOUT_STRAGGLER_FRACTION: String(fraction),
      BENCH_SPECULATE: spec ? "1" : "0",
    });
    const none = await runCase("straggler", env(0, false));
    const off = await runCase("straggler", env(SIZES.stragglerFraction, false));
    const on = await runCase("straggler", env(SIZES.stragglerFraction, true));
    for (const [label, r] of [["no stragglers", none], ["stragglers, speculation off", off], ["stragglers, speculation on", on]]) {
      if (r.error) log(`  ${label}: error: ${r.error}`);
      else log(`  ${label}: wall ${ms(r.wallMs)} (execution ${ms(r.execMs)}, ideal ${ms(ideal)})${r.speculate ? ` · ${r.speculated} speculative copies, ${r.wins} won` : ""}`);
    }
    rows.push(["e", "stragglers, speculation on: wall", ms(on.wallMs), `no stragglers ${ms(none.wallMs)}`, `${f2(on.wallMs / none.wallMs)}x`]);
    rows.push(["e", "stragglers, speculation off: wall", ms(off.wallMs), `no stragglers ${ms(none.wallMs)}`, `${f2(off.wallMs / none.wallMs)}x`]);
    rows.push(["e", "stragglers, execution on / off", ms(on.execMs), `off ${ms(off.execMs)}`, `${f2(on.execMs / off.execMs)}x`]);
  }

  const load1 = os.loadavg();
  const totalS = (Date.now() - t0) / 1000;
  const header = ["case", "measurement", "fanout", "reference (same run)", "ratio"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmtRow = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd();
  log(`\n${fmtRow(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n${rows.map(fmtRow).join("\n")}`);
  log(`\n${totalS.toFixed(0)} s in all · load average ${load0.map((v) => v.toFixed(1)).join(" ")} at the start, ${load1.map((v) => v.toFixed(1)).join(" ")} at the end`);

  if (!QUICK && only.size === 5) {
    const md = [
      "# fanout benchmark results",
      "",
      `- date: ${started.toISOString()}`,
      `- machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores (availableParallelism ${os.availableParallelism()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}`,
      `- node: ${process.version}`,
      `- command: \`npm run bench\` (node bench/run.js)`,
      `- load average (1/5/15 min): ${load0.map((v) => v.toFixed(1)).join(" / ")} at the start, ${load1.map((v) => v.toFixed(1)).join(" / ")} at the end; other work on the machine skews the figures`,
      `- total time: ${totalS.toFixed(0)} s`,
      "",
      "Every ratio compares two figures measured in this same run; each measurement ran in a fresh child process.",
      "",
      `| ${header.join(" | ")} |`,
      `| ${header.map(() => "---").join(" | ")} |`,
      ...rows.map((r) => `| ${r.join(" | ")} |`),
      "",
      "## What each case does",
      "",
      `- **a** \`bench/jobs/noop.ts\` through \`run()\` on the local backend: ${SIZES.noopChunks.toLocaleString()} chunks, concurrency ${SIZES.noopConcurrency}, speculation off. "execution" = first invoke to last reply; "whole run" = \`summary.wallMs\` (bundling, planning, pool start, reduce included). faast.js 8 \`faast("local", module)\` calling a no-op export ${SIZES.faastCalls.toLocaleString()} times at concurrency ${SIZES.faastConcurrency}, timed around the calls only (init and cleanup excluded).`,
      `- **b** \`examples/pi.ts\` (${SIZES.piSamples.toExponential()} samples, ${SIZES.cpuChunks} chunks): the sequential baseline of \`fanout bench\` (src/sequential.ts, same chunks, one process) vs \`run()\` on the local pool; ratio = speedup / cores.`,
      `- **c** \`examples/sleep.ts\`: ${SIZES.sleepChunks} chunks of one ${SIZES.sleepMs / 1000} s wait at concurrency ${SIZES.sleepChunks}; ratio = wall / ${SIZES.sleepMs / 1000} s. Each is also run with one chunk (\`the time of one\`) in the same process; the emulated rows run on an emulated stack started before either run, as a deployed one would be.`,
      `- **d** a fake Lambda Invoke API on 127.0.0.1 answering at once: a bare \`@aws-sdk/client-lambda\` invoke loop vs fanout's AWS backend \`invoke()\` (the \`AwsBackend\` class pointed at the loopback endpoint, else \`openAwsBackend\`), ${SIZES.dispatchCalls} invokes at concurrency ${SIZES.dispatchConcurrency} each with the same socket pool size; the fanout half is skipped, with the reason printed, when the backend cannot be opened.`,
      `- **e** \`bench/jobs/straggler.ts\`: ${SIZES.stragglerItems} chunks of ${SIZES.stragglerBaseMs} ms at concurrency ${SIZES.stragglerConcurrency}, ${SIZES.stragglerFraction * 100}% taking ${SIZES.stragglerSlowMs} ms on their first attempt only; wall with speculation on and off vs the same run without stragglers (ideal ${((SIZES.stragglerItems / SIZES.stragglerConcurrency) * SIZES.stragglerBaseMs).toFixed(0)} ms of execution).`,
      "",
    ].join("\n");
    fs.writeFileSync(path.join(ROOT, "bench", "RESULTS.md"), md);
    log("wrote bench/RESULTS.md");
  }
}

if (args[0] === "--case") {
  const name = args[1];
  try {
    const r = await cases[name]();
    process.stdout.write(RESULT_TAG + JSON.stringify(r) + "\n", () => process.exit(0));
  } catch (err) {
    process.stdout.write(RESULT_TAG + JSON.stringify({ error: oneLine(err) }) + "\n", () => process.exit(1));
  }
} else {
  await main();
}
