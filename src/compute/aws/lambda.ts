import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import * as fs from "node:fs";
import * as path from "node:path";
import { emulatedBucket, runningEmulatorFromEnv, startEmulator, startS3rver, stopS3rver, type EmulatorEndpoints } from "./emulator.js";
import { ConfigError, InfraError, retryAfterMsOf, UsageError } from "../../errors.js";
import type { AwsOptions } from "../../options.js";
import { makeS3Client, S3Store } from "../../store/s3.js";
import type { Reply, Task } from "../../types.js";
import type { Backend, BackendConfig, InvokeOptions } from "../types.js";

/** Past the chunk's own timeout, how long the client waits for Lambda before giving up. */
const CLIENT_GRACE_MS = 30_000;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$/;

interface AwsTarget {
  region: string;
  functionName: string;
  bucket: string;
  lambdaEndpoint?: string;
  s3Endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  profile?: string;
}

function stackName(stage: string): string {
  return `fanout-${stage}`;
}

function checkRegion(region: string | undefined): string {
  const r = region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!r) throw new ConfigError("no AWS region is set", "pass --region, or set AWS_REGION (or a region in your AWS profile)");
  if (!REGION.test(r)) throw new UsageError(`"${r}" is not an AWS region`, "use a region code such as us-east-1 or eu-west-1");
  return r;
}

function describeAwsError(err: unknown): { name: string; status?: number; message: string } {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return { name: e?.name ?? "Error", ...(e?.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}), message: e?.message ?? String(err) };
}

function credentialProblem(err: unknown): ConfigError | undefined {
  const { name, message } = describeAwsError(err);
  if (name === "CredentialsProviderError" || /Could not load credentials|credential/i.test(message)) {
    return new ConfigError("no AWS credentials found", "run `aws configure`, or set AWS_PROFILE / --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", err);
  }
  if (name === "UnrecognizedClientException" || name === "InvalidClientTokenId" || name === "ExpiredTokenException" || name === "ExpiredToken") {
    return new ConfigError(`AWS rejected the credentials (${name})`, "refresh them (aws sso login, or new keys) and try again", err);
  }
  return undefined;
}

/** Find the deployed function and bucket: flags and env first, then the stack's outputs. */
async function resolveAwsTarget(o: AwsOptions): Promise<AwsTarget> {
  const region = checkRegion(o.region);
  const profile = o.profile ?? process.env.AWS_PROFILE;
  let functionName = o.functionName ?? process.env.FANOUT_FUNCTION;
  let bucket = o.bucket ?? process.env.FANOUT_BUCKET;
  if (!functionName || !bucket) {
    const stage = o.stage ?? "dev";
    const cf = new CloudFormationClient({ region, ...(profile ? { profile } : {}) });
    try {
      const out = await cf.send(new DescribeStacksCommand({ StackName: stackName(stage) }));
      const outputs = new Map((out.Stacks?.[0]?.Outputs ?? []).map((x) => [x.OutputKey, x.OutputValue]));
      functionName ??= outputs.get("WorkerFunctionName");
      bucket ??= outputs.get("RunsBucketName");
    } catch (err) {
      const cred = credentialProblem(err);
      if (cred) throw cred;
      const { message } = describeAwsError(err);
      if (/does not exist/.test(message)) {
        throw new ConfigError(`fanout is not deployed in ${region} (no stack ${stackName(stage)})`, `run \`npx fanout deploy --stage ${stage} --region ${region}\` first`);
      }
      throw new ConfigError(`cannot read the fanout stack in ${region}: ${message}`, "check --region, --profile and your network", err);
    } finally {
      cf.destroy();
    }
    if (!functionName || !bucket) {
      throw new ConfigError(`stack ${stackName(stage)} has no WorkerFunctionName/RunsBucketName outputs`, "redeploy with `npx fanout deploy`");
    }
  }
  return {
    region,
    functionName,
    bucket,
    ...(profile ? { profile } : {}),
    // Any Lambda/S3-compatible servers (LocalStack, a proxy, the emulator under another name).
    ...(o.lambdaEndpoint ? { lambdaEndpoint: o.lambdaEndpoint } : {}),
    ...(o.s3Endpoint ? { s3Endpoint: o.s3Endpoint } : {}),
  };
}

function emulatedTarget(e: EmulatorEndpoints): AwsTarget {
  return {
    region: e.region,
    functionName: e.functionName,
    bucket: e.bucket,
    lambdaEndpoint: e.lambdaEndpoint,
    s3Endpoint: e.s3Endpoint,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
  };
}

function s3StoreFor(t: AwsTarget, maxSockets = 64): S3Store {
  const client = makeS3Client({
    region: t.region,
    ...(t.s3Endpoint ? { endpoint: t.s3Endpoint } : {}),
    ...(t.credentials ? { credentials: t.credentials } : {}),
    maxSockets,
  });
  return new S3Store(client, t.bucket);
}

/**
 * Chunks on AWS Lambda, payloads and results in S3. Each chunk is one synchronous
 * (RequestResponse) invocation: its reply is the completion signal, so nothing polls the
 * bucket; the HTTP agent allows as many sockets as the run's concurrency, since the SDK's
 * default of 50 would silently cap it.
 * @public bench/run.js (case d) drives it through dist/, which knip cannot follow.
 */
export class AwsBackend implements Backend {
  readonly store: S3Store;
  private readonly lambda: LambdaClient;

  constructor(
    readonly name: "aws" | "emulated",
    readonly target: AwsTarget,
    readonly memoryMb: number,
    concurrency: number,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    const maxSockets = Math.max(50, concurrency);
    this.lambda = new LambdaClient({
      region: target.region,
      ...(target.lambdaEndpoint ? { endpoint: target.lambdaEndpoint } : {}),
      ...(target.credentials ? { credentials: target.credentials } : {}),
      ...(target.profile ? { profile: target.profile } : {}),
      // Throttles and failures are retried by the executor, with jitter and counted;
      // SDK retries underneath would hide them and multiply the wait.
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
        connectionTimeout: 10_000,
      }),
    });
    this.store = s3StoreFor(target, Math.min(maxSockets, 512));
  }

  async invoke(task: Task, opts: InvokeOptions = {}): Promise<Reply> {
    const ac = new AbortController();
    let why: InfraError | undefined;
    const stop = (e: InfraError) => {
      why ??= e;
      ac.abort(e);
    };
    opts.cancel = () => stop(new InfraError("cancelled", "cancelled"));
    const deadline = setTimeout(
      () => stop(new InfraError("timeout", `no reply from Lambda ${CLIENT_GRACE_MS / 1000} s after chunk ${task.index}'s ${task.timeoutMs / 1000} s timeout (client side)`)),
      task.timeoutMs + CLIENT_GRACE_MS,
    );
    // Lambda starts a chunk on receipt; there is no queue to wait in.
    opts.started?.();
    try {
      const out = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.target.functionName,
          InvocationType: "RequestResponse",
          Payload: Buffer.from(JSON.stringify({ ...task, bucket: this.target.bucket })),
        }),
        { abortSignal: ac.signal },
      );
      const text = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
      if (out.FunctionError) throw functionError(task, text, this.memoryMb);
      const reply = JSON.parse(text) as Reply;
      if (!reply.ok && reply.error?.kind === "transient") {
        throw new InfraError("transient", reply.error.message, { cause: reply.error });
      }
      return reply;
    } catch (err) {
      if (why) throw why;
      if (err instanceof InfraError) throw err;
      throw classifyInvokeError(err, this.target);
    } finally {
      clearTimeout(deadline);
      opts.cancel = undefined;
    }
  }

  async close(): Promise<void> {
    this.lambda.destroy();
    this.store.client.destroy();
    await this.onClose();
  }
}

/** The function itself failed outside our handler's control: a crash, OOM or platform timeout. */
function functionError(task: Task, payload: string, memoryMb: number): InfraError {
  let msg = payload;
  try {
    const p = JSON.parse(payload) as { errorMessage?: string; errorType?: string };
    msg = `${p.errorType ?? "Error"}: ${p.errorMessage ?? payload}`;
  } catch {
    /* not JSON */
  }
  if (/out of memory|OutOfMemory|heap limit|signal: killed/i.test(msg)) {
    return new InfraError("oom", `worker ran out of memory (limit ${memoryMb} MB, set with --memory): ${msg}`);
  }
  if (/timed out|timeout/i.test(msg)) return new InfraError("timeout", `chunk ${task.index}: Lambda timed out: ${msg}`);
  return new InfraError("crash", `chunk ${task.index}: the worker function failed: ${msg}`);
}

function classifyInvokeError(err: unknown, t: AwsTarget): Error {
  const cred = credentialProblem(err);
  if (cred) return new InfraError("crash", cred.message + " — " + cred.hint, { cause: cred });
  const { name, status, message } = describeAwsError(err);
  if (status === 429 || name === "TooManyRequestsException" || name === "ThrottlingException" || /Rate exceeded|TooManyRequests/i.test(message)) {
    return new InfraError("throttled", `Lambda throttled the invocation (${name}): ${message}`, { retryAfterMs: retryAfterMsOf(err) });
  }
  if (name === "ResourceNotFoundException" || status === 404) {
    return new InfraError("crash", `Lambda function ${t.functionName} not found in ${t.region}: deploy with \`npx fanout deploy\``);
  }
  if (name === "RequestEntityTooLargeException" || status === 413) {
    return new InfraError("serialize", `the invocation payload is too large for Lambda: ${message}`);
  }
  return new InfraError("transient", `${name}: ${message}`, { cause: err });
}

/** Fail fast, before any chunk runs, when the function is missing or the credentials are bad. */
async function preflight(t: AwsTarget): Promise<{ memoryMb?: number }> {
  const lambda = new LambdaClient({
    region: t.region,
    ...(t.profile ? { profile: t.profile } : {}),
    ...(t.lambdaEndpoint ? { endpoint: t.lambdaEndpoint } : {}),
  });
  try {
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: t.functionName }));
    return cfg.MemorySize ? { memoryMb: cfg.MemorySize } : {};
  } catch (err) {
    const cred = credentialProblem(err);
    if (cred) throw cred;
    const { name, message } = describeAwsError(err);
    if (name === "ResourceNotFoundException") {
      throw new ConfigError(`Lambda function ${t.functionName} is not deployed in ${t.region}`, "run `npx fanout deploy` (same --stage and --region) first");
    }
    throw new ConfigError(`cannot reach Lambda in ${t.region}: ${message}`, "check --region, --profile and your network", err);
  } finally {
    lambda.destroy();
  }
}

/** `emulatedDir`: where a stack fanout starts itself keeps its objects (see emulatedStoreDir). */
export async function openAwsBackend(cfg: BackendConfig, emulatedDir: string): Promise<Backend> {
  if (cfg.backend === "emulated") {
    const running = await runningEmulatorFromEnv();
    if (running) return new AwsBackend("emulated", emulatedTarget(running), cfg.memoryMb, cfg.concurrency);
    const emu = await startEmulator({ ...(cfg.aws?.stage ? { stage: cfg.aws.stage } : {}), dir: emulatedDir });
    return new AwsBackend("emulated", emulatedTarget(emu), cfg.memoryMb, cfg.concurrency, () => emu.stop());
  }
  const target = await resolveAwsTarget(cfg.aws ?? {});
  // Lambda's memory is the deployed function's; reports and cost use that, not the flag.
  const deployed = await preflight(target);
  return new AwsBackend("aws", target, deployed.memoryMb ?? cfg.memoryMb, cfg.concurrency);
}

export async function openAwsStore(cfg: Omit<BackendConfig, "memoryMb" | "concurrency">, emulatedDir: string): Promise<{ store: S3Store; close(): Promise<void> }> {
  if (cfg.backend === "emulated") return openEmulatedStore(cfg.aws?.stage, emulatedDir);
  const store = s3StoreFor(await resolveAwsTarget(cfg.aws ?? {}));
  return { store, close: async () => store.client.destroy() };
}

/** The running stack's store, or else the objects a stopped one left in `dir`, served by s3rver alone. */
async function openEmulatedStore(stage: string | undefined, dir: string): Promise<{ store: S3Store; close(): Promise<void> }> {
  const running = await runningEmulatorFromEnv();
  if (running) {
    const store = s3StoreFor(emulatedTarget(running));
    return { store, close: async () => store.client.destroy() };
  }
  const bucket = emulatedBucket(stage);
  if (!fs.existsSync(path.join(dir, bucket))) {
    throw new ConfigError(
      `no emulated stack is running and no emulated store is in ${dir}`,
      "start one with `fanout emulate` and export the FANOUT_EMULATOR line it prints, or run with --backend emulated from the project",
    );
  }
  const s3 = await startS3rver(dir, bucket);
  const store = s3StoreFor({ region: "us-east-1", functionName: "", bucket, s3Endpoint: s3.endpoint, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  return {
    store,
    close: async () => {
      store.client.destroy();
      await stopS3rver(s3);
    },
  };
}
