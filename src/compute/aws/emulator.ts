/**
 * The emulated AWS stack on loopback: s3rver for S3 (s3rver.ts) and serverless-offline under
 * osls for the Lambda Invoke API (offline.ts), started together and stopped together.
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import type { EmulatorEndpoints } from "./env.js";
import { checkLambdaBuilt, makeTaskRoot, startOffline } from "./offline.js";
import { emulatedBucket, s3DataDir, startS3rver, stopS3rver, type EmulatedS3 } from "./s3rver.js";
import { stopChild } from "./servers.js";

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
  /** Where the worker's own Lambda calls go (a detached run's driver); default this stack's. Tests put a proxy there. */
  workerLambdaEndpoint?: string;
  /** Where the worker's S3 calls go; default this stack's s3rver. Tests put a proxy there (one that enforces conditional writes). */
  workerS3Endpoint?: string;
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
  /**
   * Memory tiers in MB, as `fanout deploy --memory 256,1024` deploys them: one worker function
   * each (the first is `worker`), named in EmulatorEndpoints.tiers. Default: one worker, no tiers.
   */
  tiers?: readonly number[];
  /**
   * An SSM server (AWS_ENDPOINT_URL_SSM) the worker reads `--secret` from, since the stack has
   * none; default the variable of the starting process. The same for Secrets Manager
   * (AWS_ENDPOINT_URL_SECRETS_MANAGER), for jobs that call it themselves.
   */
  ssmEndpoint?: string;
  secretsManagerEndpoint?: string;
}

/**
 * Start the emulated AWS stack on loopback: s3rver for S3 and serverless-offline (under osls)
 * for the Lambda Invoke API, serving the real worker bundle from serverless.yml (through
 * worker/emulated.ts, which gives it the environment and working directory a Lambda has).
 */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const stage = opts.stage ?? "dev";
  checkLambdaBuilt();
  const data = s3DataDir(opts.dir);
  const taskRoot = makeTaskRoot();
  const removeDirs = () => {
    data.remove();
    fs.rmSync(taskRoot, { recursive: true, force: true });
  };
  const bucket = emulatedBucket(stage);
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const secrets = {
    ssm: opts.ssmEndpoint ?? (process.env.AWS_ENDPOINT_URL_SSM || undefined),
    secretsManager: opts.secretsManagerEndpoint ?? (process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER || undefined),
  };
  let s3: EmulatedS3 | undefined;
  try {
    s3 = await startS3rver(data.dir, bucket, { ...(opts.s3Port ? { port: opts.s3Port } : {}), timeoutMs });
    const offline = await startOffline({
      stage,
      s3Endpoint: opts.workerS3Endpoint ?? s3.endpoint,
      taskRoot,
      lambdaPort: opts.lambdaPort,
      ...(opts.workerLambdaEndpoint ? { workerLambdaEndpoint: opts.workerLambdaEndpoint } : {}),
      isolation: opts.isolation,
      ...(opts.tiers?.length ? { tiers: opts.tiers } : {}),
      timeoutMs,
      secrets,
    });
    const emu = runningEmulator({ stage, dir: data.dir, bucket, s3, offline: offline.child, lambdaPort: offline.lambdaPort, timeoutMs, removeDirs, ssmEndpoint: secrets.ssm });
    if (opts.tiers?.length) emu.tiers = tiersOutput(emu.functionName, opts.tiers);
    return emu;
  } catch (err) {
    if (s3) await stopS3rver(s3);
    removeDirs();
    throw err;
  }
}

/** The tiers as the stack's WorkerTiers output names them (serverless-tiers.cjs): worker, then worker<MB>. */
function tiersOutput(functionName: string, tiers: readonly number[]): string {
  return tiers.map((mb, i) => `${mb}=${functionName}${i === 0 ? "" : mb}`).join(",");
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
  ssmEndpoint: string | undefined;
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
    ...(o.ssmEndpoint ? { ssmEndpoint: o.ssmEndpoint } : {}),
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
