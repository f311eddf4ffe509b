#!/usr/bin/env node
// fanout benchmarks: `npm run bench` (after `npm run build`; built here if dist/ is missing).
//
//   node bench/run.js                 every case, then bench/RESULTS.md
//   node bench/run.js --only a,e      some cases (a b c d e f g h)
//   node bench/run.js --repeat 5      repetitions of every measurement (default 3)
//   node bench/run.js --quick         smaller sizes, for trying the script out
//
// Every figure is a ratio measured in the same run: fanout against faast.js, against the
// same map run sequentially in one process, against the ideal wall time, against a bare SDK
// loop, or against a straggler-free run. Every measurement is repeated and reported as its
// median and spread (min–max); the two sides of a comparison get the same warm-up and the
// same work, alternate which goes first, and have their results checked. Measurements run in
// fresh child processes (`--case <name>`), so one case's heap, module cache, environment and
// worker pool cannot skew the next.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fakeTask, checkReply, startFakeLambda } from "./lib/fake-lambda.js";
import { oneLine, RESULT_TAG, runCase, timeCli, timeNode, unwrap } from "./lib/processes.js";
import { commandLine, commitLabel, writeResults } from "./lib/results-md.js";
import { alternate, fmtSpread, overlaps, ratioOf, spreadOf } from "./lib/stats.js";

// Where fanout's modules are under dist/. src/ is being reorganised: when a module moves,
// fix its path here, and only here.
const MODULES = {
  index: "src/index.js", // run()
  sequential: "src/bench/sequential.js", // runSequential(), deepEqual()
  emulator: "src/compute/aws/emulator.js", // startEmulator()
  lambda: "src/compute/aws/lambda.js", // AwsBackend, openAwsBackend()
};

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = fileURLToPath(import.meta.url);
const BIN = path.join(ROOT, "bin/fanout.js");
const OUT = path.join(ROOT, "bench", "out");
const STORE = path.join(OUT, "store");
const NOOP_JOB = path.join(ROOT, "bench/jobs/noop.ts");
const PI_JOB = path.join(ROOT, "examples/pi.ts");
const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
const REPEAT = flagValue("--repeat", "3");
const load = (key) => import(pathToFileURL(path.join(ROOT, "dist", MODULES[key])).href);

// Sizes (the --quick values in the second column).
const SIZES = {
  noopChunks: QUICK ? 20_000 : 100_000,
  noopConcurrency: 5000,
  faastCalls: QUICK ? 5000 : 20_000,
  faastConcurrency: 4,
  warmupCalls: 1000,
  piSamples: QUICK ? 1e8 : 2e9,
  piWarmupSamples: 1e6,
  cpuChunks: 32,
  sleepChunks: 360,
  sleepMs: 2000,
  stragglerItems: 200,
  stragglerConcurrency: 20,
  stragglerBaseMs: 100,
  stragglerSlowMs: 1000,
  stragglerFraction: 0.05,
  dispatchCalls: QUICK ? 1000 : 5000,
  dispatchWarmup: 200,
  dispatchConcurrency: 64,
  startupRuns: 10,
  s3Bytes: QUICK ? 32 * 1024 * 1024 : 256 * 1024 * 1024,
  // The same 16 ranges at 64 MB each: Lithops' default partition size (obj_chunk_size).
  s3BigBytes: QUICK ? 128 * 1024 * 1024 : 1024 * 1024 * 1024,
  s3Concurrency: 16,
  s3MinRepeat: 7,
};

function flagValue(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}

// ---------------------------------------------------------------------------------------
// Cases: each runs in its own child process and returns a plain object.
// ---------------------------------------------------------------------------------------

/** A store folder of this child's own, removed when the case ends (results pile up otherwise). */
function childStore(name) {
  return path.join(STORE, `${name}-${process.pid}`);
}

function check(ok, message) {
  if (!ok) throw new Error(message);
}

const cases = {
  /**
   * a. no-op chunks through the whole local path (bundle, plan, store, pool, executor, reduce)
   * at BENCH_CONCURRENCY, after an unmeasured warm-up run of `warmupCalls` chunks.
   */
  async noop() {
    const { run } = await load("index");
    const chunks = Number(process.env.BENCH_CHUNKS);
    const concurrency = Number(process.env.BENCH_CONCURRENCY);
    const store = childStore("noop");
    const once = async (n) => {
      const res = await run(NOOP_JOB, { chunks: n, concurrency, speculate: false, store, cwd: ROOT });
      check(res.result === n, `noop reduce gave ${res.result}, expected ${n}`);
      return res;
    };
    try {
      await once(Math.min(SIZES.warmupCalls, chunks));
      const res = await once(chunks);
      const execMs = execSpan(res.attempts);
      return { chunks, concurrency, wallMs: res.summary.wallMs, execMs, perSecExec: chunks / (execMs / 1000), perSecWall: chunks / (res.summary.wallMs / 1000) };
    } finally {
      fs.rmSync(store, { recursive: true, force: true });
    }
  },

  /** a. faast.js local mode: no-op calls at its concurrency, the same warm-up, timed around the calls only. */
  async faast() {
    const { faast } = await import("faastjs");
    const mod = await import(pathToFileURL(path.join(ROOT, "bench/faast-noop.mjs")).href);
    const calls = Number(process.env.BENCH_CALLS);
    const t0 = performance.now();
    const m = await faast("local", mod, { concurrency: SIZES.faastConcurrency });
    const initMs = performance.now() - t0;
    const callAll = async (n) => {
      let next = 0;
      let done = 0;
      const caller = async () => {
        while (next < n) {
          next++;
          check((await m.functions.noop()) === undefined, "faast noop returned a value");
          done++;
        }
      };
      const s = performance.now();
      // More callers than faast's concurrency: its own limiter is what bounds the calls in flight.
      await Promise.all(Array.from({ length: 64 }, caller));
      check(done === n, `faast completed ${done} of ${n} calls`);
      return performance.now() - s;
    };
    await callAll(Math.min(SIZES.warmupCalls, calls));
    const callsMs = await callAll(calls);
    const c = performance.now();
    await m.cleanup();
    return { calls, concurrency: SIZES.faastConcurrency, initMs, callsMs, cleanupMs: performance.now() - c, perSec: calls / (callsMs / 1000) };
  },

  /**
   * b. CPU-bound: examples/pi.ts sequentially in one process vs on the local pool. Both sides
   * first run once, unmeasured, on `piWarmupSamples`; BENCH_REP picks which side goes first.
   * The results must be deeply equal, else the case fails.
   */
  async cpu() {
    const { runSequential, deepEqual } = await load("sequential");
    const { run } = await load("index");
    const store = childStore("cpu");
    const chunks = SIZES.cpuChunks;
    const sides = {
      sequential: async () => {
        const s = await runSequential(PI_JOB, { chunks, cwd: ROOT });
        return { ms: s.wallMs, result: s.result };
      },
      parallel: async () => {
        const r = await run(PI_JOB, { chunks, store, cwd: ROOT });
        return { ms: r.summary.wallMs, result: r.result };
      },
    };
    const both = async (order) => {
      const out = {};
      for (const side of order) out[side] = await sides[side]();
      const same = deepEqual(out.sequential.result, out.parallel.result);
      check(same, `results differ: sequential ${JSON.stringify(out.sequential.result)}, parallel ${JSON.stringify(out.parallel.result)}`);
      return out;
    };
    try {
      process.env.FANOUT_PI_SAMPLES = String(SIZES.piWarmupSamples);
      await both(["sequential", "parallel"]);
      process.env.FANOUT_PI_SAMPLES = String(SIZES.piSamples);
      const out = await both(alternate(["sequential", "parallel"], Number(process.env.BENCH_REP)));
      return { cores: os.availableParallelism(), sequentialMs: out.sequential.ms, parallelMs: out.parallel.ms, result: out.parallel.result };
    } finally {
      fs.rmSync(store, { recursive: true, force: true });
    }
  },

  /**
   * h. What a native package costs a cold worker: one chunk of examples/crc32.ts (CRC-32
   * through @node-rs/crc32, which reaches the worker as fanout's archive: fetched, checked
   * and unpacked once per environment) against the same work in plain JavaScript
   * (bench/jobs/crc32-js.ts), each on a freshly started emulated stack (a new
   * serverless-offline process: nothing imported, cached or unpacked in it) with the
   * worker's unpacked packages removed first. One unmeasured round of each first (the
   * client builds and caches the archive there, as it would once per package set); both
   * answers checked equal.
   */
  async depsCold() {
    const { run } = await load("index");
    const { startEmulator } = await load("emulator");
    const repeat = Number(process.env.BENCH_REPEAT);
    const jobs = { native: path.join(ROOT, "examples/crc32.ts"), js: path.join(ROOT, "bench/jobs/crc32-js.ts") };
    const once = async (k, round) => {
      fs.rmSync(path.join(os.tmpdir(), "fanout-deps"), { recursive: true, force: true });
      const emu = await startEmulator({ stage: `benchh${process.pid}r${round}${k}` });
      process.env.FANOUT_EMULATOR = JSON.stringify(emu);
      try {
        const res = await run(jobs[k], { backend: "emulated", chunks: 1, concurrency: 1, speculate: false, cwd: ROOT, signal: AbortSignal.timeout(120_000) });
        const a = res.attempts[0];
        check(a?.coldStart === true, `${k}: the chunk did not start cold`);
        return { result: res.result, roundTripMs: a.returnedAt - a.invokedAt, handlerMs: a.handlerMs ?? 0, depsMs: a.depsMs ?? 0 };
      } finally {
        delete process.env.FANOUT_EMULATOR;
        await emu.stop();
      }
    };
    const first = { native: await once("native", "w"), js: await once("js", "w") };
    check(JSON.stringify(first.native.result) === JSON.stringify(first.js.result), `the native and plain answers differ: ${JSON.stringify(first)}`);
    check(first.native.depsMs > 0 && first.js.depsMs === 0, `expected an unpack on the native side only: ${JSON.stringify(first)}`);
    const reps = [];
    for (let i = 0; i < repeat; i++) {
      const rep = {};
      for (const k of alternate(Object.keys(jobs), i)) rep[k] = await once(k, i);
      check(JSON.stringify(rep.native.result) === JSON.stringify(first.js.result), "the native answer changed");
      reps.push(rep);
    }
    return { reps };
  },

  /**
   * c. `sleepChunks` chunks that each wait `sleepMs`, all in flight at once, against the same
   * job with one chunk. `backend` "emulated" starts the emulated stack first, as a deployed
   * stack would already be running. Both sizes run once unmeasured (the first invoke, bundle
   * fetch and import are paid there), then BENCH_REPEAT times in alternating order; every
   * run must report items === its chunk count.
   */
  async sleep() {
    const { run } = await load("index");
    const backend = process.env.FANOUT_BENCH_BACKEND ?? "local";
    const repeat = Number(process.env.BENCH_REPEAT);
    let emu;
    if (backend === "emulated") {
      const { startEmulator } = await load("emulator");
      emu = await startEmulator({ stage: "bench" });
      process.env.FANOUT_EMULATOR = JSON.stringify(emu);
    }
    const store = childStore("sleep");
    const once = async (n) => {
      process.env.FANOUT_SLEEP_ITEMS = String(n);
      const opts = { backend, chunks: n, concurrency: n, speculate: false, store, cwd: ROOT, signal: AbortSignal.timeout(150_000) };
      const res = await run(path.join(ROOT, "examples/sleep.ts"), opts);
      check(res.result?.items === n, `${n} chunks gave items ${res.result?.items}, expected ${n}`);
      return { wallMs: res.summary.wallMs, execMs: execSpan(res.attempts), coldStarts: res.summary.coldStarts };
    };
    const sizes = { one: 1, all: SIZES.sleepChunks };
    try {
      for (const n of Object.values(sizes)) await once(n);
      const reps = [];
      for (let i = 0; i < repeat; i++) {
        const rep = {};
        for (const k of alternate(Object.keys(sizes), i)) rep[k] = await once(sizes[k]);
        reps.push(rep);
      }
      return { reps };
    } finally {
      await emu?.stop();
      fs.rmSync(store, { recursive: true, force: true });
    }
  },

  /**
   * d. Dispatch to a fake Lambda Invoke API on 127.0.0.1 that answers at once, so only the
   * client side is measured: a bare SDK invoke loop vs fanout's AWS backend `invoke()`, same
   * concurrency and socket pool. Each side gets `dispatchWarmup` unmeasured invokes, then
   * BENCH_REPEAT rounds in alternating order; every reply is checked.
   */
  async dispatch() {
    const server = await startFakeLambda();
    const endpoint = `http://127.0.0.1:${server.port}`;
    const repeat = Number(process.env.BENCH_REPEAT);
    const sides = { sdk: await sdkInvoker(endpoint) };
    try {
      const fanout = await fanoutInvoker(endpoint);
      if (fanout.reason) return { fanoutUnavailable: fanout.reason, ...(await measureDispatch(sides, repeat)) };
      sides.fanout = fanout;
      return await measureDispatch(sides, repeat);
    } finally {
      for (const s of Object.values(sides)) await s.close();
      server.close();
    }
  },

  /**
   * g. bytes/s read through lines("s3://...") on the emulated stack (first invoke to last
   * reply) vs bare SDK ranged-GET loops over the same object, the same ranges and the same
   * concurrency, in one child with one stack; one unmeasured round each, then BENCH_REPEAT
   * rounds in alternating order. Every side's line (and byte) counts are checked.
   *
   * Where fanout's side spent its time (node --cpu-prof of serverless-offline, which runs the
   * 16 chunks in its one process, and of the same read path in a plain process against
   * s3rver; 256 MB, 16 ranges, at 6830b0c):
   * - Array.prototype.flat joining a chunk's parts: ~45 ms per 16 MB chunk (175,000 lines),
   *   about a third of the in-process read; now concat, or the one part's array as it is.
   * - The ranged GET's body was copied twice (the SDK's transformToByteArray gathers the pieces
   *   into a Uint8Array, then Buffer.from copies it), then decoded whole into one 16 MB string.
   *   In serverless-offline's large heap, those 16 MB buffers and strings (external memory, 16
   *   at once) kept the GC marking the whole heap: about 830 ms of GC per round, the biggest
   *   single cost. The same read in a process with ~50 MB of live objects took twice the CPU of
   *   one without. Now the body is cut into lines as it arrives (src/plan/line-cutter.ts), a
   *   reused 256 KiB batch of whole lines decoded at a time (64 KiB, 120 KiB, 512 KiB and
   *   1.5 MiB batches measured worse or no better); serverless-offline's CPU per round fell
   *   from ~1.75-1.85 s to ~1.2-1.45 s, GC from ~830 ms to ~600 ms.
   * - UTF-8 decoding of ASCII: decoded as Latin-1 when isAscii says so (the same string, no
   *   validation): ~20% less decoding time. The "\r" pass over every line runs only when the
   *   batch has a "\r".
   * - Not fanout's to change: s3rver's own CPU (both sides pay it; ~0.4-0.7 s per round),
   *   serverless-offline's in-process invocation (small: 16 invocations), the result PUT
   *   (small JSON). More, smaller ranges would change both sides alike; the case keeps 16.
   * - What is left is the work a job over lines must do: decoding, one string per line and the
   *   garbage collection of 2.8 million strings, in a process whose heap is larger than the
   *   bench process's. Hence the like-for-like reference (sdkLines) beside the bytes-only one.
   * - After the changes, CPU per round by process (/proc, one quieter moment, 256 MB): fanout
   *   serverless-offline 0.97-1.19 s, s3rver 0.49-0.60 s, bench process 0.04-0.06 s; the
   *   like-for-like reference: bench process 0.87-0.95 s, s3rver 0.35-0.44 s. The workers now
   *   read and split at about the reference's cost; the rest is per run, not per byte: the
   *   run's own S3 traffic (16 result PUTs, the plan's listing and HEAD, the manifest), which
   *   keeps results durable and runs resumable, and planning in the client. Measured alone
   *   (the same run over a 64 KiB object): ~0.23-0.26 s of CPU per run of 16 chunks
   *   (serverless-offline 0.08-0.10 s, s3rver 0.09-0.11 s, client 0.04-0.07 s), about the whole
   *   CPU gap to the like-for-like reference at 256 MB (1.70 s vs 1.47 s).
   * - The ratio grows with the range: fanout pays a fixed cost per chunk (its invocation and its
   *   durable result PUT, s3rver's CPU on the same cores here), while the bare loop's
   *   whole-range buffers and strings grow with the range and fanout's batches do not. Hence the
   *   second object size; --quick shows the small end (ranges of 2 and 8 MB).
   * - At 63dbb78 the batches are split into line strings only when the chunk's lines are asked
   *   for, and the worker lets go of the chunk's input before storing its result. Made as the
   *   body arrived, 2.8 million strings outlived the download's young-generation collections and
   *   were copied by each; held through the result PUT, finished chunks' lines were copied again.
   *   This case at 8e3c292 and after it (--only g --repeat 9, one after the other): 256 MB, like
   *   for like 0.71x -> 0.97x, per CPU second of the reading process 0.69x -> 1.00x.
   * - Tried then and dropped, no better beyond the rounds' spread: holding the body's pieces and
   *   decoding once at the end, as the SDK's transformToString does; batches of 1, 2 and 32 MiB;
   *   Lambda's own heap flags (its Node bootstrap gives --max-semi-space-size of memory/20) on
   *   both sides; worker-thread isolation.
   */
  async s3read() {
    const { startEmulator } = await load("emulator");
    const { run } = await load("index");
    const { S3Client, CreateBucketCommand, GetObjectCommand } = await import("@aws-sdk/client-s3");
    const { Upload } = await import("@aws-sdk/lib-storage");
    const { s3Concurrency: c } = SIZES;
    const size = Number(process.env.BENCH_S3_BYTES);
    const repeat = Number(process.env.BENCH_REPEAT);
    const emu = await startEmulator({ stage: `bench${process.pid}` });
    Object.assign(process.env, { FANOUT_EMULATOR: JSON.stringify(emu), AWS_ENDPOINT_URL_S3: emu.s3Endpoint, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1", FANOUT_BENCH_S3_URL: "s3://bench-in/data.txt" });
    const client = new S3Client({ region: "us-east-1", endpoint: emu.s3Endpoint, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
    try {
      await client.send(new CreateBucketCommand({ Bucket: "bench-in" }));
      const line = "2024-10-10T13:55:36Z GET /some/path/that/is/long?q=1 200 1234 \"Mozilla/5.0 (X11; Linux x86_64)\"\n";
      // Filled, not line.repeat(): a string holds at most 512 MB.
      const body = Buffer.alloc(Math.ceil(size / line.length) * line.length, line);
      await new Upload({ client, params: { Bucket: "bench-in", Key: "data.txt", Body: body } }).done();
      const want = [body.length / line.length, body.length];
      const job = path.join(ROOT, "bench/jobs/s3lines.ts");
      // The same c ranges fanout's plan makes of the object (src/plan/split.ts splitPoints).
      const rangeOf = (i) => `bytes=${Math.floor((i * body.length) / c)}-${Math.floor(((i + 1) * body.length) / c) - 1}`;
      const sides = {
        fanout: async () => {
          const res = await run(job, { backend: "emulated", chunks: c, concurrency: c, speculate: false, cwd: ROOT });
          check(res.result[0] === want[0] && res.result[1] === want[1], `s3lines gave ${res.result}, expected ${want}`);
          return execSpan(res.attempts);
        },
        // The like-for-like reference: what a job written against the bare SDK must do to see
        // lines, as bench/jobs/s3lines.ts's map does: decode each range (the SDK's own
        // transformToString), split it into line strings, and the same per-line work (count,
        // Buffer.byteLength). A range's last piece is the start of a line the next range ends,
        // so it is counted as bytes, not as a line; fanout's chunks own whole lines instead.
        sdkLines: async () => {
          let lines = 0;
          let bytes = 0;
          const t = await timedLoop(c, c, async (i) => {
            const out = await client.send(new GetObjectCommand({ Bucket: "bench-in", Key: "data.txt", Range: rangeOf(i) }));
            const pieces = (await out.Body.transformToString()).split("\n");
            for (let k = 0; k < pieces.length - 1; k++) bytes += Buffer.byteLength(pieces[k]) + 1;
            bytes += Buffer.byteLength(pieces[pieces.length - 1]);
            lines += pieces.length - 1;
          });
          check(lines === want[0] && bytes === want[1], `SDK lines loop counted ${lines} lines, ${bytes} bytes, expected ${want}`);
          return t;
        },
        // The raw ceiling: the bytes only, newlines counted in them, no line strings made. It does
        // less than any job over lines must (no decoding, no strings), so it bounds the read from above.
        sdk: async () => {
          let lines = 0;
          const t = await timedLoop(c, c, async (i) => {
            const out = await client.send(new GetObjectCommand({ Bucket: "bench-in", Key: "data.txt", Range: rangeOf(i) }));
            const buf = Buffer.from(await out.Body.transformToByteArray());
            for (let p = buf.indexOf(10); p !== -1; p = buf.indexOf(10, p + 1)) lines++;
          });
          check(lines === want[0], `SDK loop counted ${lines} lines, expected ${want[0]}`);
          return t;
        },
      };
      for (const k of Object.keys(sides)) await sides[k]();
      // Besides bytes per second of wall time: bytes per CPU second of every process at work
      // (this one, serverless-offline, s3rver), which a busy machine skews far less. For fanout
      // it is taken around the whole run() (planning and bundling included, against fanout).
      // And per CPU second of the one process that reads: serverless-offline, which hosts
      // fanout's chunks, or this process, which runs the bare loops.
      const procs = [process.pid, ...emu.pids];
      const readerOf = { fanout: 1, sdkLines: 0, sdk: 0 };
      const perSec = { fanout: [], sdkLines: [], sdk: [] };
      const perCpuSec = { fanout: [], sdkLines: [], sdk: [] };
      const perReaderCpuSec = { fanout: [], sdkLines: [], sdk: [] };
      for (let r = 0; r < repeat; r++) {
        for (const k of alternate(Object.keys(sides), r)) {
          const cpu0 = cpuMsOf(procs);
          const ms = await sides[k]();
          const cpu = cpuMsOf(procs);
          perSec[k].push(body.length / (ms / 1000));
          if (cpu === undefined || cpu0 === undefined) continue;
          perCpuSec[k].push(body.length / ((sum(cpu) - sum(cpu0)) / 1000));
          perReaderCpuSec[k].push(body.length / ((cpu[readerOf[k]] - cpu0[readerOf[k]]) / 1000));
        }
      }
      return { perSec, perCpuSec, perReaderCpuSec, bytes: body.length };
    } finally {
      client.destroy();
      await emu.stop();
    }
  },

  /** e. stragglers: one variant per process (FANOUT_STRAGGLER_* and BENCH_SPECULATE). */
  async straggler() {
    const { run } = await load("index");
    const speculate = process.env.BENCH_SPECULATE === "1";
    const store = childStore("straggler");
    try {
      const res = await run(path.join(ROOT, "bench/jobs/straggler.ts"), { chunks: SIZES.stragglerItems, concurrency: SIZES.stragglerConcurrency, speculate, store, cwd: ROOT });
      check(res.result === SIZES.stragglerItems, `straggler reduce gave ${res.result}, expected ${SIZES.stragglerItems}`);
      return { speculate, wallMs: res.summary.wallMs, execMs: execSpan(res.attempts), speculated: res.summary.speculated, wins: res.summary.speculationWins };
    } finally {
      fs.rmSync(store, { recursive: true, force: true });
    }
  },
};

// ---------------------------------------------------------------------------------------
// case helpers (child side)
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

let clockTicks;
/** CPU ms (user + system) used so far by each of these processes, from /proc; undefined where there is none. */
function cpuMsOf(pids) {
  if (process.platform !== "linux") return undefined;
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" })) || 100;
  return pids.map((pid) => {
    // Fields 14 and 15 (utime, stime), counted after the ")" that ends the command name.
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks;
  });
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** `n` calls of fn(i) with `concurrency` in flight; ms from first call to last reply. */
async function timedLoop(n, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  const s = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - s;
}

/** Warm each side up the same way, then time `repeat` rounds of each, alternating which goes first. */
async function measureDispatch(sides, repeat) {
  const { dispatchCalls: n, dispatchWarmup: w, dispatchConcurrency: c } = SIZES;
  for (const s of Object.values(sides)) await timedLoop(w, c, (i) => s.invoke(i, w));
  const perSec = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let r = 0; r < repeat; r++) {
    for (const k of alternate(Object.keys(sides), r)) perSec[k].push(n / ((await timedLoop(n, c, (i) => sides[k].invoke(i, n))) / 1000));
  }
  return { perSec };
}

/** The bare SDK loop: one LambdaClient with the same socket pool size as fanout's backend. */
async function sdkInvoker(endpoint) {
  const { LambdaClient, InvokeCommand } = await import("@aws-sdk/client-lambda");
  const { NodeHttpHandler } = await import("@smithy/node-http-handler");
  const { Agent } = await import("node:http");
  // The SDK default of 50 sockets would cap concurrency 64.
  const client = new LambdaClient({
    region: "us-east-1",
    endpoint,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: SIZES.dispatchConcurrency }) }),
  });
  return {
    async invoke(i, count) {
      const out = await client.send(new InvokeCommand({ FunctionName: "fanout-bench", Payload: Buffer.from(JSON.stringify(fakeTask(i, count))) }));
      check(out.StatusCode === 200 && !out.FunctionError, `SDK invoke ${i}: status ${out.StatusCode} ${out.FunctionError ?? ""}`);
      checkReply(JSON.parse(Buffer.from(out.Payload).toString("utf8")), i, "SDK loop");
    },
    close: async () => client.destroy(),
  };
}

/** fanout's AWS backend pointed at the loopback endpoint (no stack discovery), or { reason } it cannot be opened. */
async function fanoutInvoker(endpoint) {
  let aws;
  try {
    aws = await load("lambda");
  } catch (err) {
    return { reason: `cannot import dist/${MODULES.lambda}: ${oneLine(err)}` };
  }
  const target = { region: "us-east-1", functionName: "fanout-bench", bucket: "fanout-bench", lambdaEndpoint: endpoint, s3Endpoint: endpoint };
  let backend;
  try {
    if (typeof aws.AwsBackend === "function") {
      backend = new aws.AwsBackend("aws", { ...target, credentials: { accessKeyId: "bench", secretAccessKey: "bench" } }, 1024, SIZES.dispatchConcurrency);
    } else if (typeof aws.openAwsBackend === "function") {
      backend = await aws.openAwsBackend({ backend: "aws", cwd: ROOT, memoryMb: 1024, concurrency: SIZES.dispatchConcurrency, aws: target });
    } else return { reason: `dist/${MODULES.lambda} exports neither AwsBackend nor openAwsBackend` };
  } catch (err) {
    return { reason: `opening the AWS backend: ${oneLine(err)}` };
  }
  return {
    invoke: async (i, count) => checkReply(await backend.invoke(fakeTask(i, count)), i, "fanout backend"),
    close: () => backend.close(),
  };
}

// ---------------------------------------------------------------------------------------
// the parent: run the cases' repetitions, print and record the table
// ---------------------------------------------------------------------------------------

const f0 = (v) => (v === undefined || !Number.isFinite(v) ? "–" : Math.round(v).toLocaleString("en-US"));
const f2 = (v) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(2));
const ms = (v) => (v === undefined || !Number.isFinite(v) ? "–" : v < 10_000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`);
const log = (s) => console.log(s);
const child = (name, env = {}, timeoutMs) =>
  runCase(SCRIPT, name, { cwd: ROOT, env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])), extraArgs: QUICK ? ["--quick"] : [], timeoutMs });

/** `repeat` repetitions of every side, alternating their order; each side's result checked by unwrap. */
async function repeatSides(sides, show) {
  const reps = [];
  for (let i = 0; i < REPEAT; i++) {
    const rep = {};
    for (const k of alternate(Object.keys(sides), i)) rep[k] = unwrap(await sides[k](), k);
    reps.push(rep);
    log(`  #${i + 1}: ${show(rep)}`);
  }
  return reps;
}

async function caseA(rows) {
  const { noopChunks: N, noopConcurrency: C, faastCalls: M, faastConcurrency: F } = SIZES;
  log(`\na. no-op chunks: fanout ${N.toLocaleString()} chunks at concurrency ${C} and ${M.toLocaleString()} chunks at ${F}, vs faast.js local ${M.toLocaleString()} calls at concurrency ${F}; each after ${SIZES.warmupCalls} unmeasured`);
  const reps = await repeatSides(
    {
      wide: () => child("noop", { BENCH_CHUNKS: N, BENCH_CONCURRENCY: C }),
      faast: () => child("faast", { BENCH_CALLS: M }),
      same: () => child("noop", { BENCH_CHUNKS: M, BENCH_CONCURRENCY: F }),
    },
    (r) => `fanout c=${C} ${f0(r.wide.perSecExec)}/s exec, ${f0(r.wide.perSecWall)}/s wall · faast.js ${f0(r.faast.perSec)}/s (init ${ms(r.faast.initMs)} not counted) · fanout c=${F} ${f0(r.same.perSecExec)}/s exec, ${f0(r.same.perSecWall)}/s wall`,
  );
  const faast = spreadOf(reps, (r) => r.faast.perSec);
  const ref = `faast.js c=${F}: ${fmtSpread(faast, f0)} calls/s`;
  for (const [label, key, field] of [
    [`execution, fanout c=${C}`, "wide", "perSecExec"],
    [`whole run (wall), fanout c=${C}`, "wide", "perSecWall"],
    [`execution, like for like: c=${F}, ${M.toLocaleString()} each`, "same", "perSecExec"],
    [`whole run (wall), like for like: c=${F}, ${M.toLocaleString()} each`, "same", "perSecWall"],
  ]) {
    const s = spreadOf(reps, (r) => r[key][field]);
    rows.push(["a", `no-op chunks/s, ${label}`, fmtSpread(s, f0), ref, ratioOf(s, faast)]);
  }
  const cli = await cliMarginal();
  const s = spreadOf(cli, (r) => r.perSec);
  rows.push(["a", `no-op chunks/s, whole CLI marginal: (${N.toLocaleString()} - 1) / (t(${N.toLocaleString()}) - t(1))`, fmtSpread(s, f0), ref, ratioOf(s, faast)]);
}

/** fanout's whole-CLI marginal rate: `fanout run` with N chunks and with 1, as whole processes. */
async function cliMarginal() {
  const N = SIZES.noopChunks;
  const store = path.join(STORE, "cli");
  const time = async (n) => {
    const t = await timeCli(BIN, ["run", "bench/jobs/noop.ts", "--chunks", String(n), "-q", "--store", store], n, { cwd: ROOT });
    fs.rmSync(path.join(store, "runs"), { recursive: true, force: true }); // unmeasured: keep the store small
    return { ms: t };
  };
  log(`  whole CLI: node bin/fanout.js run bench/jobs/noop.ts --chunks ${N} (and --chunks 1) -q --store bench/out/store/cli, one unmeasured run of each first`);
  await time(N);
  await time(1);
  const reps = await repeatSides({ n: () => time(N), one: () => time(1) }, (r) => `t(${N}) ${ms(r.n.ms)}, t(1) ${ms(r.one.ms)} → ${f0((N - 1) / ((r.n.ms - r.one.ms) / 1000))} chunks/s`);
  return reps.map((r) => ({ perSec: (N - 1) / ((r.n.ms - r.one.ms) / 1000) }));
}

async function caseB(rows) {
  log(`\nb. CPU-bound: examples/pi.ts, ${SIZES.piSamples.toExponential()} samples in ${SIZES.cpuChunks} chunks: sequential in one process vs the local pool (both warmed on ${SIZES.piWarmupSamples.toExponential()} samples)`);
  const reps = [];
  for (let i = 0; i < REPEAT; i++) {
    const c = unwrap(await child("cpu", { BENCH_REP: i }), "cpu");
    reps.push(c);
    log(`  #${i + 1}: sequential ${ms(c.sequentialMs)} · local ${ms(c.parallelMs)} · speedup ${f2(c.sequentialMs / c.parallelMs)}x · results equal (${c.result})`);
  }
  const cores = reps[0].cores;
  const speedup = spreadOf(reps, (r) => r.sequentialMs / r.parallelMs);
  const perCore = spreadOf(reps, (r) => r.sequentialMs / r.parallelMs / cores);
  rows.push(["b", `CPU speedup vs sequential (${cores} cores)`, fmtSpread(speedup, (v) => `${f2(v)}x`), `ideal ${cores}x`, `${fmtSpread(perCore, f2)} per core`]);
  rows.push(["b", "CPU wall: local pool vs sequential", fmtSpread(spreadOf(reps, (r) => r.parallelMs), ms), `sequential ${fmtSpread(spreadOf(reps, (r) => r.sequentialMs), ms)}`, ratioOf(spreadOf(reps, (r) => r.parallelMs), spreadOf(reps, (r) => r.sequentialMs))]);
}

async function caseC(rows) {
  const { sleepChunks: n, sleepMs } = SIZES;
  log(`\nc. ${n} chunks that each wait ${sleepMs / 1000} s, concurrency ${n}, vs one chunk; both sizes run once unmeasured first, then alternate`);
  const errors = [];
  for (const backend of ["local", "emulated"]) {
    const label = `${n} x ${sleepMs / 1000} s waits, ${backend}`;
    const r = await child("sleep", { FANOUT_SLEEP_MS: sleepMs, FANOUT_BENCH_BACKEND: backend, BENCH_REPEAT: REPEAT }, 60_000 + (2 + 2 * REPEAT) * 30_000);
    if (r.error) {
      log(`  ${backend}: error: ${r.error}`);
      errors.push(`${backend}: ${r.error}`);
      continue;
    }
    r.reps.forEach((x, i) => log(`  ${backend} #${i + 1}: ${n} chunks wall ${ms(x.all.wallMs)} (execution ${ms(x.all.execMs)}, ${x.all.coldStarts} cold starts) · one chunk wall ${ms(x.one.wallMs)}`));
    const all = spreadOf(r.reps, (x) => x.all.wallMs);
    const one = spreadOf(r.reps, (x) => x.one.wallMs);
    const ideal = { median: sleepMs, min: sleepMs, max: sleepMs, n: 1 };
    rows.push(["c", `${label}: wall vs one chunk`, fmtSpread(all, ms), `one chunk ${fmtSpread(one, ms)}`, ratioOf(all, one)]);
    rows.push(["c", `${label}: wall vs ideal`, fmtSpread(all, ms), `ideal ${ms(sleepMs)}`, ratioOf(all, ideal)]);
  }
  if (errors.length) throw new Error(errors.join("; "));
}

async function caseD(rows) {
  log(`\nd. client dispatch to a loopback Lambda endpoint, ${SIZES.dispatchCalls} invokes at concurrency ${SIZES.dispatchConcurrency}, after ${SIZES.dispatchWarmup} unmeasured on each side`);
  // Dummy keys for the loopback fake only: no real AWS account is touched or looked up.
  const d = unwrap(await child("dispatch", { AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench", AWS_REGION: "us-east-1", AWS_PROFILE: "", BENCH_REPEAT: REPEAT }), "dispatch");
  const sdk = spreadOf(d.perSec.sdk, (v) => v);
  log(`  bare SDK invoke loop: ${d.perSec.sdk.map(f0).join(", ")} invokes/s`);
  if (d.fanoutUnavailable) {
    log(`  fanout AWS backend: skipped: ${d.fanoutUnavailable}`);
    rows.push(["d", "dispatch to loopback Lambda, invokes/s", "skipped", `bare SDK ${fmtSpread(sdk, f0)} invokes/s`, "–"]);
    return;
  }
  const fan = spreadOf(d.perSec.fanout, (v) => v);
  log(`  fanout AWS backend: ${d.perSec.fanout.map(f0).join(", ")} invokes/s`);
  // The backend is the SDK loop plus fanout's bookkeeping: it cannot truly be faster, so a
  // faster or overlapping figure is noise, not a speed-up.
  const verdict = overlaps(fan, sdk) || fan.median >= sdk.median ? "no measurable overhead" : ratioOf(fan, sdk);
  rows.push(["d", "dispatch to loopback Lambda, invokes/s", fmtSpread(fan, f0), `bare SDK ${fmtSpread(sdk, f0)} invokes/s`, verdict]);
}

async function caseE(rows) {
  const { stragglerItems: items, stragglerConcurrency: conc, stragglerBaseMs: base, stragglerSlowMs: slow, stragglerFraction: frac } = SIZES;
  log(`\ne. stragglers: ${items} chunks of ${base} ms at concurrency ${conc}; ${frac * 100}% take ${slow} ms on their first attempt (ideal execution ${ms((items / conc) * base)})`);
  const env = (fraction, spec) => ({ FANOUT_STRAGGLER_ITEMS: items, FANOUT_STRAGGLER_BASE_MS: base, FANOUT_STRAGGLER_SLOW_MS: slow, FANOUT_STRAGGLER_FRACTION: fraction, BENCH_SPECULATE: spec ? "1" : "0" });
  const reps = await repeatSides(
    { none: () => child("straggler", env(0, false)), off: () => child("straggler", env(frac, false)), on: () => child("straggler", env(frac, true)) },
    (r) => `none ${ms(r.none.wallMs)} · speculation off ${ms(r.off.wallMs)} · on ${ms(r.on.wallMs)} (${r.on.speculated} copies, ${r.on.wins} won)`,
  );
  const wall = (k) => spreadOf(reps, (r) => r[k].wallMs);
  const exec = (k) => spreadOf(reps, (r) => r[k].execMs);
  rows.push(["e", "stragglers, speculation on: wall", fmtSpread(wall("on"), ms), `no stragglers ${fmtSpread(wall("none"), ms)}`, ratioOf(wall("on"), wall("none"))]);
  rows.push(["e", "stragglers, speculation off: wall", fmtSpread(wall("off"), ms), `no stragglers ${fmtSpread(wall("none"), ms)}`, ratioOf(wall("off"), wall("none"))]);
  rows.push(["e", "stragglers, execution on / off", fmtSpread(exec("on"), ms), `off ${fmtSpread(exec("off"), ms)}`, ratioOf(exec("on"), exec("off"))]);
}

/**
 * f. Start-up: each command's process, spawn to exit, against `node -e 0` in the same run.
 * Issue 8's goal: every command under 0.2 s beyond node's own start.
 */
async function caseF(rows) {
  const n = Math.max(REPEAT, SIZES.startupRuns);
  const empty = path.join(STORE, "startup-empty");
  fs.mkdirSync(empty, { recursive: true });
  const commands = {
    node: [["-e", "0"], "node -e 0"],
    help: [[BIN, "--help"], "fanout --help"],
    runHelp: [[BIN, "run", "--help"], "fanout run --help"],
    status: [[BIN, "status", "--store", empty], "fanout status (empty store)"],
  };
  log(`\nf. start-up: ${Object.values(commands).map((c) => c[1]).join(", ")}; ${n} runs each, alternating, after one unmeasured run of each`);
  for (const [argv] of Object.values(commands)) await timeNode(argv, { cwd: ROOT });
  const reps = [];
  for (let i = 0; i < n; i++) {
    const rep = {};
    for (const k of alternate(Object.keys(commands), i)) rep[k] = await timeNode(commands[k][0], { cwd: ROOT });
    reps.push(rep);
  }
  const node = spreadOf(reps, (r) => r.node);
  log(`  node -e 0: ${fmtSpread(node, ms)}`);
  for (const k of Object.keys(commands).filter((k) => k !== "node")) {
    const s = spreadOf(reps, (r) => r[k]);
    const beyond = spreadOf(reps, (r) => r[k] - r.node);
    log(`  ${commands[k][1]}: ${fmtSpread(s, ms)} · beyond node ${fmtSpread(beyond, ms)}`);
    rows.push(["f", `start-up: ${commands[k][1]}`, fmtSpread(s, ms), `node -e 0 ${fmtSpread(node, ms)}`, `+${ms(beyond.median)} beyond node (goal < 200 ms)`]);
  }
}

async function caseG(rows) {
  await caseGAt(rows, SIZES.s3Bytes);
  await caseGAt(rows, SIZES.s3BigBytes);
}

/** Case g over one object of `size` bytes, read in s3Concurrency ranges. */
async function caseGAt(rows, size) {
  const c = SIZES.s3Concurrency;
  const repeat = Math.max(Number(REPEAT), SIZES.s3MinRepeat);
  log(`\ng. lines("s3://...") on the emulated stack vs a bare SDK ranged-GET loop: one ${Math.round(size / 1048576)} MB object, ${c} ranges of ${Math.round(size / c / 1048576)} MB at concurrency ${c}, one unmeasured round each, ${repeat} measured`);
  // Its rounds vary by more than the goal's margin within one run (231-270 MB/s at 3
  // repetitions, 256 MB): at least 7, so the medians are steadier.
  const d = unwrap(await child("s3read", { BENCH_REPEAT: repeat, BENCH_S3_BYTES: size }, 900_000), "s3read");
  const mbs = (v) => `${f0(v / 1048576)} MB/s`;
  log(`  fanout lines(): ${d.perSec.fanout.map(mbs).join(", ")} · bare SDK, lines: ${d.perSec.sdkLines.map(mbs).join(", ")} · bare SDK, bytes only: ${d.perSec.sdk.map(mbs).join(", ")}`);
  const fan = spreadOf(d.perSec.fanout, (v) => v);
  const sdkLines = spreadOf(d.perSec.sdkLines, (v) => v);
  const sdk = spreadOf(d.perSec.sdk, (v) => v);
  const what = `lines("s3://...") read, ${Math.round(size / 1048576)} MB in ${c} ranges of ${Math.round(size / c / 1048576)} MB at concurrency ${c}, emulated`;
  rows.push(["g", `${what}, like for like (goal >= 0.90x)`, fmtSpread(fan, mbs), `bare SDK ranged GETs split into lines ${fmtSpread(sdkLines, mbs)}`, ratioOf(fan, sdkLines)]);
  rows.push(["g", `${what}, vs bytes only`, fmtSpread(fan, mbs), `bare SDK ranged GETs, newlines counted ${fmtSpread(sdk, mbs)}`, ratioOf(fan, sdk)]);
  if (d.perCpuSec.fanout.length) {
    const perCpu = (v) => `${f0(v / 1048576)} MB/CPU-s`;
    const cf = spreadOf(d.perCpuSec.fanout, (v) => v);
    const cl = spreadOf(d.perCpuSec.sdkLines, (v) => v);
    const cb = spreadOf(d.perCpuSec.sdk, (v) => v);
    log(`  per CPU second, all processes: fanout ${d.perCpuSec.fanout.map(perCpu).join(", ")} · bare SDK, lines: ${d.perCpuSec.sdkLines.map(perCpu).join(", ")} · bytes only: ${d.perCpuSec.sdk.map(perCpu).join(", ")}`);
    rows.push(["g", `${what}, bytes per CPU second of all processes, like for like`, fmtSpread(cf, perCpu), `bare SDK split into lines ${fmtSpread(cl, perCpu)}`, ratioOf(cf, cl)]);
    rows.push(["g", `${what}, bytes per CPU second of all processes, vs bytes only`, fmtSpread(cf, perCpu), `bare SDK, newlines counted ${fmtSpread(cb, perCpu)}`, ratioOf(cf, cb)]);
    const rf = spreadOf(d.perReaderCpuSec.fanout, (v) => v);
    const rl = spreadOf(d.perReaderCpuSec.sdkLines, (v) => v);
    log(`  per CPU second of the reading process: fanout (serverless-offline) ${d.perReaderCpuSec.fanout.map(perCpu).join(", ")} · bare SDK, lines (bench process): ${d.perReaderCpuSec.sdkLines.map(perCpu).join(", ")}`);
    rows.push(["g", `${what}, bytes per CPU second of the reading process, like for like`, fmtSpread(rf, perCpu), `bare SDK split into lines ${fmtSpread(rl, perCpu)}`, ratioOf(rf, rl)]);
  }
}

async function caseH(rows) {
  log("\nh. a cold chunk with a native package (@node-rs/crc32 from fanout's archive) vs the same work in plain JavaScript, each on a fresh emulated stack");
  const d = unwrap(await child("depsCold", { BENCH_REPEAT: REPEAT }, 600_000), "depsCold");
  const rt = (k) => spreadOf(d.reps, (r) => r[k].roundTripMs);
  const handler = (k) => spreadOf(d.reps, (r) => r[k].handlerMs);
  const unpack = spreadOf(d.reps, (r) => r.native.depsMs);
  log(`  round trip: native ${fmtSpread(rt("native"), ms)} · plain ${fmtSpread(rt("js"), ms)} · archive fetched, checked, unpacked in ${fmtSpread(unpack, ms)}`);
  rows.push(["h", "cold chunk, round trip: native package from the archive vs plain JavaScript", fmtSpread(rt("native"), ms), `plain JavaScript ${fmtSpread(rt("js"), ms)}`, ratioOf(rt("native"), rt("js"))]);
  rows.push(["h", "cold chunk, billed handler time: native package vs plain JavaScript", fmtSpread(handler("native"), ms), `plain JavaScript ${fmtSpread(handler("js"), ms)}`, ratioOf(handler("native"), handler("js"))]);
  rows.push(["h", "of which the archive's fetch, sha256 check and unpack (once per environment)", fmtSpread(unpack, ms), "–", `+${ms(unpack.median)}`]);
}

function caseNotes() {
  const S = SIZES;
  return [
    `**a** \`bench/jobs/noop.ts\` through \`run()\` on the local backend, speculation off: ${S.noopChunks.toLocaleString()} chunks at concurrency ${S.noopConcurrency} (today's figure), and ${S.faastCalls.toLocaleString()} chunks at concurrency ${S.faastConcurrency} (like for like with faast.js). "execution" = first invoke to last reply; "whole run" = \`summary.wallMs\` (bundling, planning, pool start, reduce included). faast.js 8 \`faast("local", module)\` calls a no-op export ${S.faastCalls.toLocaleString()} times at concurrency ${S.faastConcurrency}, timed around the calls only (init and cleanup excluded). Each side first does ${S.warmupCalls} unmeasured chunks/calls in its process. "whole CLI marginal" times \`node bin/fanout.js run bench/jobs/noop.ts --chunks N -q --store bench/out/store/cli\` with N = ${S.noopChunks.toLocaleString()} and N = 1 as whole processes (CLI default concurrency; one unmeasured run of each first; printed result checked = N), rate = (N - 1) / (t(N) - t(1)) per repetition.`,
    `**b** \`examples/pi.ts\` (${S.piSamples.toExponential()} samples, ${S.cpuChunks} chunks): the sequential baseline of \`fanout bench\` (dist/${MODULES.sequential}, same chunks, one process) vs \`run()\` on the local pool, both in one child per repetition after one unmeasured run of each on ${S.piWarmupSamples.toExponential()} samples; the two results must be deeply equal or the case fails. Ratio = speedup / cores.`,
    `**c** \`examples/sleep.ts\`: ${S.sleepChunks} chunks of one ${S.sleepMs / 1000} s wait at concurrency ${S.sleepChunks}, vs the same job with one chunk ("the time of one") and vs the ideal ${S.sleepMs / 1000} s. One child per backend: the emulated one starts its stack before any run, as a deployed one would be; both sizes run once unmeasured (paying the first invoke, bundle fetch and import), then alternate; every run must give items = its chunk count.`,
    `**d** a fake Lambda Invoke API on 127.0.0.1 answering at once: a bare \`@aws-sdk/client-lambda\` invoke loop vs fanout's AWS backend \`invoke()\` (the \`AwsBackend\` class pointed at the loopback endpoint, else \`openAwsBackend\`), ${S.dispatchCalls} invokes at concurrency ${S.dispatchConcurrency} with the same socket pool size, after ${S.dispatchWarmup} unmeasured invokes each; every reply is checked. "no measurable overhead" when the spreads overlap or fanout is faster (it is the SDK plus bookkeeping, so cannot truly be faster).`,
    `**e** \`bench/jobs/straggler.ts\`: ${S.stragglerItems} chunks of ${S.stragglerBaseMs} ms at concurrency ${S.stragglerConcurrency}, ${S.stragglerFraction * 100}% taking ${S.stragglerSlowMs} ms on their first attempt only; wall with speculation on and off vs the same run without stragglers (ideal ${((S.stragglerItems / S.stragglerConcurrency) * S.stragglerBaseMs).toFixed(0)} ms of execution); one fresh process per variant; result checked = ${S.stragglerItems}.`,
    `**f** start-up: \`node bin/fanout.js --help\`, \`run --help\` and \`status\` over an empty store, each a whole process from spawn to exit, against \`node -e 0\`; ${Math.max(REPEAT, S.startupRuns)} runs of each, order alternating, after one unmeasured run of each. "beyond node" is the median of each run's difference from the node run beside it.`,
    `**g** \`bench/jobs/s3lines.ts\`: \`lines("s3://bench-in/data.txt")\` over one object on the emulated stack's s3rver, ${Math.round(S.s3Bytes / 1048576)} MB and then ${Math.round(S.s3BigBytes / 1048576)} MB (a fresh stack each), ${S.s3Concurrency} chunks at concurrency ${S.s3Concurrency} (ranges of ${Math.round(S.s3Bytes / S.s3Concurrency / 1048576)} MB and of ${Math.round(S.s3BigBytes / S.s3Concurrency / 1048576)} MB; Lithops partitions objects into 64 MB by default), timed first invoke to last reply (workers do their own ranged GETs, decode, split into line strings; the job's map counts the lines and their UTF-8 bytes), vs two bare \`@aws-sdk/client-s3\` loops of the same ${S.s3Concurrency} ranged GETs at the same concurrency. Like for like: each range decoded with the SDK's \`transformToString()\`, split on "\\n" and given the job's per-line work (count, \`Buffer.byteLength\`), which is what a job over lines written against the bare SDK must do. Bytes only: newlines counted in the bytes, no strings made: less work than any job over lines, so an upper bound, not the goal's reference. The "per CPU second" rows divide the bytes by the CPU time (user + system, from /proc) of every process at work: the bench process, serverless-offline and s3rver; for fanout taken around the whole run(), planning and bundling included. A busy machine skews wall-time figures (and fanout's side spreads over one process more than the reference's, which a contended scheduler favours); CPU per byte it skews far less. The "reading process" row divides by the CPU of the one process that reads: serverless-offline, which hosts fanout's chunks, or the bench process, which runs the bare loop. One stack, one unmeasured round of each side, then alternating rounds (at least ${S.s3MinRepeat}, whatever --repeat says: a ${Math.round(S.s3Bytes / 1048576)} MB round lasts about a second and rounds vary more than the goal's margin); every side's line count (and byte count, where made) checked. Where fanout's read spends its time, and what was done about it: the notes at the top of \`s3read\` in bench/run.js.`,
    `**h** one chunk of \`examples/crc32.ts\` (CRC-32 of 5 strings through \`@node-rs/crc32\`, whose compiled addon reaches the worker in fanout's archive, installed for the worker's platform) vs \`bench/jobs/crc32-js.ts\` (the same CRC-32s in plain JavaScript, nothing to ship), each on a freshly started emulated stack (a new serverless-offline process, so the chunk starts cold: bundle fetched and imported, and on the native side the archive fetched, its sha256 checked and unpacked into /tmp), with /tmp/fanout-deps removed first. "round trip" = the attempt's invoke to reply at the client; "billed handler time" = the worker's own measure of the invocation. One unmeasured round of each first (the client builds and caches the archive there); the two answers checked equal.`,
  ];
}

async function main() {
  const only = new Set((flagValue("--only", "a,b,c,d,e,f,g,h") ?? "").split(","));
  if (!/^[1-9]\d*$/.test(String(REPEAT))) {
    console.error(`bench: --repeat must be a positive integer, got ${JSON.stringify(REPEAT ?? "")} — e.g. --repeat 3`);
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, "dist", MODULES.index))) {
    log("dist/ is missing: building first (npm run build)");
    execFileSync(process.execPath, [path.join(ROOT, "scripts/build.js")], { cwd: ROOT, stdio: "inherit" });
  }
  fs.mkdirSync(OUT, { recursive: true });
  fs.rmSync(STORE, { recursive: true, force: true });
  const started = new Date();
  const commit = commitLabel(ROOT); // before RESULTS.md is rewritten
  const load0 = os.loadavg();
  const t0 = Date.now();
  const rows = []; // [case, measurement, fanout, reference, ratio]
  const failed = [];
  log(`fanout bench · ${commit} · ${os.cpus()[0]?.model ?? "cpu"} · ${os.availableParallelism()} cores · node ${process.version} · repeat ${REPEAT}${QUICK ? " · QUICK sizes" : ""}`);
  for (const [key, fn] of Object.entries({ a: caseA, b: caseB, c: caseC, d: caseD, e: caseE, f: caseF, g: caseG, h: caseH })) {
    if (!only.has(key)) continue;
    try {
      await fn(rows);
    } catch (err) {
      log(`  ${key}: error: ${oneLine(err)}`);
      rows.push([key, "error", oneLine(err).replaceAll("|", "/"), "–", "–"]);
      failed.push(key);
    }
  }
  const load1 = os.loadavg();
  const totalS = (Date.now() - t0) / 1000;
  const header = ["case", "measurement", "fanout: median (min–max)", "reference, same run: median (min–max)", "ratio of medians"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmtRow = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd();
  log(`\n${fmtRow(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n${rows.map(fmtRow).join("\n")}`);
  log(`\n${totalS.toFixed(0)} s in all · ${REPEAT} repetitions · load average ${load0.map((v) => v.toFixed(1)).join(" ")} at the start, ${load1.map((v) => v.toFixed(1)).join(" ")} at the end`);
  if (failed.length) {
    log(`failed: ${failed.join(", ")}; bench/RESULTS.md not written`);
    process.exitCode = 1;
  } else if (!QUICK && only.size === 8 && Number(REPEAT) >= 3) {
    writeResults(path.join(ROOT, "bench", "RESULTS.md"), { started, commit, command: commandLine(args), repeat: REPEAT, totalS, load0, load1, header, rows, caseNotes: caseNotes() });
    log("wrote bench/RESULTS.md");
  }
}

if (args[0] === "--case") {
  try {
    const r = await cases[args[1]]();
    process.stdout.write(RESULT_TAG + JSON.stringify(r) + "\n", () => process.exit(0));
  } catch (err) {
    process.stdout.write(RESULT_TAG + JSON.stringify({ error: oneLine(err) }) + "\n", () => process.exit(1));
  }
} else {
  await main();
}
