/**
 * FANOUT_EMULATOR: the running stack `fanout emulate` names for library calls and CLI
 * children, parsed and checked to be up.
 */
import * as net from "node:net";
import { ConfigError } from "../../errors.js";

/** Where an emulated AWS stack listens; `fanout emulate` prints it as FANOUT_EMULATOR. */
export interface EmulatorEndpoints {
  region: string;
  s3Endpoint: string;
  lambdaEndpoint: string;
  bucket: string;
  functionName: string;
  /** The memory tiers it serves, as the stack's WorkerTiers output ("256=fanout-dev-worker,1024=fanout-dev-worker1024"). */
  tiers?: string;
  /** s3rver accepts only these credentials. */
  accessKeyId: string;
  secretAccessKey: string;
  /**
   * Where the worker's secret reads go (SSM), when the stack was started with one: the emulated
   * stack serves no SSM of its own, so `--secret` resolves only against a server named here.
   */
  ssmEndpoint?: string;
}

/**
 * The FANOUT_EMULATOR value naming a running stack, as `fanout emulate` prints it and
 * emulatorFromEnv reads it back (s3rver's fixed credentials left out).
 */
export function emulatorEnvValue(e: Omit<EmulatorEndpoints, "accessKeyId" | "secretAccessKey" | "tiers" | "ssmEndpoint"> & { tiers?: string | undefined; ssmEndpoint?: string | undefined }): string {
  return JSON.stringify({
    region: e.region,
    s3Endpoint: e.s3Endpoint,
    lambdaEndpoint: e.lambdaEndpoint,
    bucket: e.bucket,
    functionName: e.functionName,
    ...(e.ssmEndpoint ? { ssmEndpoint: e.ssmEndpoint } : {}),
    ...(e.tiers ? { tiers: e.tiers } : {}),
  });
}

/** The running stack named by FANOUT_EMULATOR (set by `fanout emulate`), if any. 
 * @public tests import it from dist/, which knip cannot follow
 */
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
        ...(typeof e.tiers === "string" ? { tiers: e.tiers } : {}),
        accessKeyId: e.accessKeyId ?? "S3RVER",
        secretAccessKey: e.secretAccessKey ?? "S3RVER",
        ...(e.ssmEndpoint ? { ssmEndpoint: e.ssmEndpoint } : {}),
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
