import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../errors.js";
import type { EmulatorEndpoints } from "./env.js";
import { emulatedBucket, startS3rver, stopS3rver, type EmulatedS3 } from "./s3rver.js";
import { binOf, freePort, PACKAGE_ROOT, QUIET_ENV, startServer, stopChild } from "./servers.js";

// Names other modules import from here (src/compute/aws/lambda.ts, cli/aws-commands.ts).
export { runningEmulatorFromEnv, type EmulatorEndpoints } from "./env.js";
export { emulatedBucket, startS3rver, stopS3rver } from "./s3rver.js";
export { PACKAGE_ROOT } from "./servers.js";

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
