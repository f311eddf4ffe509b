import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../errors.js";

/** Where an emulated AWS stack listens; `fanout emulate` prints it as FANOUT_EMULATOR. */
export interface EmulatorEndpoints {
  region: string;
  s3Endpoint: string;
  lambdaEndpoint: string;
  bucket: string;
  functionName: string;
  /** s3rver accepts only these credentials. */
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Emulator extends EmulatorEndpoints {
  dir: string;
  pids: number[];
  stop(): Promise<void>;
  /** Fault injection: take S3 down for `downMs`, then bring it back on the same port and data. */
  outageS3(downMs: number): Promise<void>;
}

export interface EmulatorOptions {
  stage?: string;
  /** Folder for s3rver's objects, kept after stop; default a new temp dir, removed on stop. */
  dir?: string;
  s3Port?: number;
  lambdaPort?: number;
  /** Milliseconds to wait for each server to be ready. */
  readyTimeoutMs?: number;
  /**
   * How serverless-offline hosts the worker. "process" (default): one warm container that
   * takes every invocation concurrently, as fanout's handler allows; cheap enough that 360
   * invocations at once measure fanout, not the emulator. "threads": a worker thread per
   * concurrent invocation, like separate Lambda containers with their own cold starts
   * (about 35 ms of CPU each, so 360 of them take seconds on two cores).
   */
  isolation?: "process" | "threads";
}

/** The package root: serverless.yml and the built Lambda worker live there. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const require = createRequire(import.meta.url);

function binOf(pkg: string, bin: string): string {
  let pj: string;
  try {
    pj = require.resolve(`${pkg}/package.json`, { paths: [PACKAGE_ROOT, process.cwd()] });
  } catch {
    throw new ConfigError(
      `the emulated AWS stack needs the npm package "${pkg}", which is not installed`,
      "npm install --save-dev osls serverless-offline@13 s3rver (with legacy-peer-deps=true in .npmrc)",
    );
  }
  const meta = JSON.parse(fs.readFileSync(pj, "utf8")) as { bin?: string | Record<string, string> };
  const rel = typeof meta.bin === "string" ? meta.bin : meta.bin?.[bin];
  if (!rel) throw new ConfigError(`package "${pkg}" has no "${bin}" command`, `reinstall ${pkg}`);
  return path.join(path.dirname(pj), rel);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Spawn a server and resolve once `ready` matches its output (either stream). */
function startServer(
  name: string,
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; ready: RegExp; timeoutMs: number },
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let done = false;
    const finish = (err?: Error, match?: RegExpExecArray) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill("SIGKILL");
        reject(err);
      } else resolve({ child, match: match! });
    };
    const timer = setTimeout(
      () => finish(new ConfigError(`${name} did not start within ${opts.timeoutMs / 1000} s: ${out.trim().split("\n").slice(-3).join(" | ")}`, "see the output above; is the port free?")),
      opts.timeoutMs,
    );
    const onData = (d: Buffer) => {
      out = (out + d.toString("utf8")).slice(-20_000);
      const m = opts.ready.exec(out);
      if (m) finish(undefined, m);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (e) => finish(e));
    child.once("exit", (code) => finish(new ConfigError(`${name} exited (code ${code}) before it was ready: ${out.trim().split("\n").slice(-5).join(" | ")}`, "see its output")));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

const QUIET_ENV = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  NPM_CONFIG_UPDATE_NOTIFIER: "false",
  SLS_TELEMETRY_DISABLED: "1",
  SLS_NOTIFICATIONS_MODE: "off",
};

/** A running s3rver: the emulated S3. */
export interface EmulatedS3 {
  child: ChildProcess;
  port: number;
  endpoint: string;
}

/** Start s3rver on loopback over `dir` (its objects live there, so they outlast the server). */
export async function startS3rver(dir: string, bucket: string, opts: { port?: number; timeoutMs?: number } = {}): Promise<EmulatedS3> {
  fs.mkdirSync(dir, { recursive: true });
  // s3rver's continuation tokens use DES, which Node 20's OpenSSL only has as a legacy cipher.
  const { child, match } = await startServer(
    "s3rver",
    process.execPath,
    ["--openssl-legacy-provider", binOf("s3rver", "s3rver"), "-d", dir, "-a", "127.0.0.1", "-p", String(opts.port ?? 0), "--silent", "--configure-bucket", bucket],
    { cwd: dir, env: { ...process.env, ...QUIET_ENV }, ready: /S3rver listening on [\d.]+:(\d+)/, timeoutMs: opts.timeoutMs ?? 60_000 },
  );
  const port = Number(match[1]);
  return { child, port, endpoint: `http://127.0.0.1:${port}` };
}

export function stopS3rver(s3: EmulatedS3): Promise<void> {
  return stopChild(s3.child);
}

/** The emulated stack's bucket for a stage. */
export function emulatedBucket(stage = "dev"): string {
  return `fanout-runs-${stage}`;
}

/**
 * The environment serverless-offline starts with: what it needs to run, and none of the
 * user's variables, so the worker cannot lean on the developer's shell (Lambda has no such
 * thing). worker/emulated.ts narrows it further, per invocation, to what Lambda defines.
 */
function offlineEnv(s3Endpoint: string, taskRoot: string): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "SYSTEMROOT"] as const;
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return {
    ...env,
    ...QUIET_ENV,
    // serverless-offline hands AWS_* variables to handlers: this routes the worker's S3.
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    FANOUT_EMULATED_TASK_ROOT: taskRoot,
  };
}

/**
 * Start the emulated AWS stack on loopback: s3rver for S3 and serverless-offline (under osls)
 * for the Lambda Invoke API, serving the real worker bundle from serverless.yml (through
 * worker/emulated.ts, which gives it the environment and working directory a Lambda has).
 */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const stage = opts.stage ?? "dev";
  const lambdaEntry = path.join(PACKAGE_ROOT, "dist", "lambda", "index.mjs");
  if (!fs.existsSync(lambdaEntry)) {
    throw new ConfigError("the Lambda worker is not built (dist/lambda/index.mjs is missing)", "run `npm run build` in the fanout package");
  }
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "fanout-s3-"));
  // The function's working directory: empty and read-only, like Lambda's /var/task.
  const taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-task-"));
  fs.chmodSync(taskRoot, 0o555);
  const removeDirs = () => {
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(taskRoot, { recursive: true, force: true });
  };
  const bucket = emulatedBucket(stage);
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  let s3: EmulatedS3 | undefined;
  let offline: { child: ChildProcess };
  try {
    s3 = await startS3rver(dir, bucket, { ...(opts.s3Port ? { port: opts.s3Port } : {}), timeoutMs });
    const lambdaPort = opts.lambdaPort ?? (await freePort());
    const httpPort = await freePort();
    offline = await startServer(
      "serverless-offline",
      process.execPath,
      [
        binOf("osls", "serverless"),
        "offline",
        "start",
        "--stage",
        stage,
        "--host",
        "127.0.0.1",
        "--lambdaPort",
        String(lambdaPort),
        "--httpPort",
        String(httpPort),
        "--noPrependStageInUrl",
        "--param=handler=dist/worker/emulated.handler",
        ...((opts.isolation ?? process.env.FANOUT_EMULATOR_ISOLATION ?? "process") === "process" ? ["--useInProcess"] : []),
      ],
      {
        cwd: PACKAGE_ROOT,
        env: offlineEnv(s3.endpoint, taskRoot),
        ready: new RegExp(`listening on http://127\\.0\\.0\\.1:${lambdaPort}`),
        timeoutMs,
      },
    );
    return runningEmulator({ stage, dir, bucket, s3, offline: offline.child, lambdaPort, timeoutMs, removeDirs });
  } catch (err) {
    if (s3) await stopS3rver(s3);
    removeDirs();
    throw err;
  }
}

function runningEmulator(o: {
  stage: string;
  dir: string;
  bucket: string;
  s3: EmulatedS3;
  offline: ChildProcess;
  lambdaPort: number;
  timeoutMs: number;
  removeDirs: () => void;
}): Emulator {
  const children = [o.offline, o.s3.child];
  const emulator: Emulator = {
    region: "us-east-1",
    s3Endpoint: o.s3.endpoint,
    lambdaEndpoint: `http://127.0.0.1:${o.lambdaPort}`,
    bucket: o.bucket,
    functionName: `fanout-${o.stage}-worker`,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    dir: o.dir,
    pids: children.map((c) => c.pid!).filter(Boolean),
    async stop() {
      // Lambda first: abandoned chunks may still be writing their results, and s3rver stopped
      // mid-PUT keeps a truncated object (S3's PUTs are atomic; s3rver's files are not).
      await stopChild(children[0]!);
      await stopChild(children[1]!);
      o.removeDirs();
    },
    async outageS3(downMs: number) {
      await stopChild(children[1]!);
      await new Promise((r) => setTimeout(r, downMs));
      children[1] = (await startS3rver(o.dir, o.bucket, { port: o.s3.port, timeoutMs: o.timeoutMs })).child;
      emulator.pids = children.map((c) => c.pid!).filter(Boolean);
    },
  };
  return emulator;
}

/** The running stack named by FANOUT_EMULATOR (set by `fanout emulate`), if any. */
function emulatorFromEnv(env = process.env): EmulatorEndpoints | undefined {
  const raw = env.FANOUT_EMULATOR;
  if (!raw) return undefined;
  try {
    const e = JSON.parse(raw) as Partial<EmulatorEndpoints>;
    if (e.s3Endpoint && e.lambdaEndpoint && e.bucket && e.functionName) {
      return {
        region: e.region ?? "us-east-1",
        s3Endpoint: e.s3Endpoint,
        lambdaEndpoint: e.lambdaEndpoint,
        bucket: e.bucket,
        functionName: e.functionName,
        accessKeyId: e.accessKeyId ?? "S3RVER",
        secretAccessKey: e.secretAccessKey ?? "S3RVER",
      };
    }
  } catch {
    /* fall through */
  }
  throw new ConfigError("FANOUT_EMULATOR is set but is not the JSON that `fanout emulate` prints", "copy the export line from `fanout emulate`, or unset FANOUT_EMULATOR");
}

/** Whether anything accepts TCP connections at an http://host:port endpoint. */
function listening(endpoint: string, timeoutMs = 2000): Promise<boolean> {
  const url = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port || 80) });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * The stack named by FANOUT_EMULATOR, checked to be up: a variable left over from a stopped
 * `fanout emulate` is a setup problem to explain, not a connection error to report.
 */
export async function runningEmulatorFromEnv(env = process.env): Promise<EmulatorEndpoints | undefined> {
  const e = emulatorFromEnv(env);
  if (!e) return undefined;
  const up = await Promise.all([listening(e.s3Endpoint), listening(e.lambdaEndpoint)]);
  if (up.includes(false)) {
    throw new ConfigError("the emulated stack named by FANOUT_EMULATOR is not running", "start `fanout emulate` or unset FANOUT_EMULATOR");
  }
  return e;
}
