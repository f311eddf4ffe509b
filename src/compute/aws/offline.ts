/**
 * The emulated Lambda Invoke API: serverless-offline under osls, serving the real worker
 * bundle from serverless.yml through worker/emulated.ts, in an environment and working
 * directory shaped like Lambda's.
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../errors.js";
import { binOf, freePort, PACKAGE_ROOT, QUIET_ENV, startServer } from "./servers.js";

/** serverless.yml's handler is the built Lambda worker: fail early, with the fix, if it is missing. */
export function checkLambdaBuilt(): void {
  const lambdaEntry = path.join(PACKAGE_ROOT, "dist", "lambda", "index.mjs");
  if (!fs.existsSync(lambdaEntry)) {
    throw new ConfigError("the Lambda worker is not built (dist/lambda/index.mjs is missing)", "run `npm run build` in the fanout package");
  }
}

/** The function's working directory: empty and read-only, like Lambda's /var/task. */
export function makeTaskRoot(): string {
  const taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-task-"));
  fs.chmodSync(taskRoot, 0o555);
  return taskRoot;
}

/**
 * The environment serverless-offline starts with: what it needs to run, and none of the
 * user's variables, so the worker cannot lean on the developer's shell (Lambda has no such
 * thing). worker/emulated.ts narrows it further, per invocation, to what Lambda defines.
 */
function offlineEnv(s3Endpoint: string, lambdaEndpoint: string, taskRoot: string, secrets: SecretEndpoints): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "SYSTEMROOT"] as const;
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return {
    ...env,
    ...QUIET_ENV,
    // serverless-offline hands AWS_* variables to handlers: this routes the worker's S3.
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    // ... and its Lambda calls (a detached run's driver invoking chunks and its successor).
    AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    FANOUT_EMULATED_TASK_ROOT: taskRoot,
    // The SDK's per-service endpoint variables: the worker reads --secret there (on AWS they are unset).
    ...(secrets.ssm ? { AWS_ENDPOINT_URL_SSM: secrets.ssm } : {}),
    ...(secrets.secretsManager ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.secretsManager } : {}),
  };
}

/** SSM and Secrets Manager servers the emulated worker reads secrets from (it has none of its own). */
interface SecretEndpoints {
  ssm?: string | undefined;
  secretsManager?: string | undefined;
}

export interface OfflineOptions {
  stage: string;
  /** Where the worker's S3 calls go (the emulated S3). */
  s3Endpoint: string;
  taskRoot: string;
  lambdaPort?: number;
  /** Where the worker's own Lambda calls go; default this stack's Lambda port (tests put a proxy there). */
  workerLambdaEndpoint?: string;
  isolation?: "process" | "threads";
  /** Memory tiers (MB): serverless.yml's params memory and tiers, as `fanout deploy --memory` passes them. */
  tiers?: readonly number[];
  timeoutMs: number;
  secrets?: SecretEndpoints;
}

/** Start serverless-offline on loopback; resolves once its Lambda port is listening. */
export async function startOffline(opts: OfflineOptions): Promise<{ child: ChildProcess; lambdaPort: number }> {
  const lambdaPort = opts.lambdaPort ?? (await freePort());
  const httpPort = await freePort();
  const { child } = await startServer(
    "serverless-offline",
    process.execPath,
    [
      binOf("osls", "serverless"),
      "offline",
      "start",
      "--stage",
      opts.stage,
      "--host",
      "127.0.0.1",
      "--lambdaPort",
      String(lambdaPort),
      "--httpPort",
      String(httpPort),
      "--noPrependStageInUrl",
      "--param=handler=dist/worker/emulated.handler",
      ...(opts.tiers ? [`--param=memory=${opts.tiers[0]}`, `--param=tiers=${opts.tiers.join(",")}`] : []),
      ...((opts.isolation ?? process.env.FANOUT_EMULATOR_ISOLATION ?? "process") === "process" ? ["--useInProcess"] : []),
    ],
    {
      cwd: PACKAGE_ROOT,
      env: offlineEnv(opts.s3Endpoint, opts.workerLambdaEndpoint ?? `http://127.0.0.1:${lambdaPort}`, opts.taskRoot, opts.secrets ?? {}),
      ready: new RegExp(`listening on http://127\\.0\\.0\\.1:${lambdaPort}`),
      timeoutMs: opts.timeoutMs,
    },
  );
  return { child, lambdaPort };
}
