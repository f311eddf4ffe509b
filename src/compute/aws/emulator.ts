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
  /** Folder for s3rver's objects; default a new temp dir, removed on stop. */
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

/**
 * Start the emulated AWS stack on loopback: s3rver for S3 and serverless-offline (under osls)
 * for the Lambda Invoke API, serving the real worker bundle from serverless.yml.
 */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const stage = opts.stage ?? "dev";
  const lambdaEntry = path.join(PACKAGE_ROOT, "dist", "lambda", "index.mjs");
  if (!fs.existsSync(lambdaEntry)) {
    throw new ConfigError("the Lambda worker is not built (dist/lambda/index.mjs is missing)", "run `npm run build` in the fanout package");
  }
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "fanout-s3-"));
  const bucket = `fanout-runs-${stage}`;
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const quietEnv = {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    NPM_CONFIG_UPDATE_NOTIFIER: "false",
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
  };
  // s3rver's continuation tokens use DES, which Node 20's OpenSSL only has as a legacy cipher.
  const startS3 = (port: number) =>
    startServer(
      "s3rver",
      process.execPath,
      ["--openssl-legacy-provider", binOf("s3rver", "s3rver"), "-d", dir, "-a", "127.0.0.1", "-p", String(port), "--silent", "--configure-bucket", bucket],
      { cwd: dir, env: { ...process.env, ...quietEnv }, ready: /S3rver listening on [\d.]+:(\d+)/, timeoutMs },
    );
  let s3 = await startS3(opts.s3Port ?? 0);
  const s3Port = Number(s3.match[1]);
  const s3Endpoint = `http://127.0.0.1:${s3Port}`;
  const lambdaPort = opts.lambdaPort ?? (await freePort());
  const httpPort = await freePort();
  let offline: { child: ChildProcess };
  try {
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
        ...((opts.isolation ?? process.env.FANOUT_EMULATOR_ISOLATION ?? "process") === "process" ? ["--useInProcess"] : []),
      ],
      {
        cwd: PACKAGE_ROOT,
        env: {
          ...process.env,
          ...quietEnv,
          // serverless-offline hands only AWS_* variables to handlers: this routes the worker's S3.
          AWS_ENDPOINT_URL_S3: s3Endpoint,
          AWS_ACCESS_KEY_ID: "S3RVER",
          AWS_SECRET_ACCESS_KEY: "S3RVER",
          AWS_REGION: "us-east-1",
        },
        ready: new RegExp(`listening on http://127\\.0\\.0\\.1:${lambdaPort}`),
        timeoutMs,
      },
    );
  } catch (err) {
    await stopChild(s3.child);
    throw err;
  }
  const children = [offline.child, s3.child];
  const emulator: Emulator = {
    region: "us-east-1",
    s3Endpoint,
    lambdaEndpoint: `http://127.0.0.1:${lambdaPort}`,
    bucket,
    functionName: `fanout-${stage}-worker`,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    dir,
    pids: children.map((c) => c.pid!).filter(Boolean),
    async stop() {
      await Promise.all(children.map(stopChild));
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
    async outageS3(downMs: number) {
      await stopChild(s3.child);
      await new Promise((r) => setTimeout(r, downMs));
      s3 = await startS3(s3Port);
      children[1] = s3.child;
      emulator.pids = children.map((c) => c.pid!).filter(Boolean);
    },
  };
  return emulator;
}

/** The running stack named by FANOUT_EMULATOR (set by `fanout emulate`), if any. */
export function emulatorFromEnv(env = process.env): EmulatorEndpoints | undefined {
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
