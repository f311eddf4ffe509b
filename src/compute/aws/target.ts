/**
 * Which deployed function and bucket an AWS run uses (flags and env first, then the stack's
 * outputs), with the region and the function checked before any chunk runs.
 */
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { GetAccountSettingsCommand, GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { EmulatorEndpoints } from "./emulator.js";
import { credentialProblem, describeAwsError } from "./errors.js";
import { ConfigError, UsageError } from "../../errors.js";
import type { AwsOptions } from "../../options.js";

const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$/;

/** One deployed memory tier: its memory and the worker function that has it. */
export interface MemoryTier {
  memoryMb: number;
  functionName: string;
}

export interface AwsTarget {
  region: string;
  functionName: string;
  bucket: string;
  /** The deployed memory tiers, ascending (the stack's WorkerTiers output); absent for a function named by flag. */
  tiers?: MemoryTier[];
  lambdaEndpoint?: string;
  s3Endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  profile?: string;
  /** The emulated stack's SSM server, if it has one (on AWS the SDK's own chain finds SSM). */
  ssmEndpoint?: string;
}

function stackName(stage: string): string {
  return `fanout-${stage}`;
}

/** The profile fanout names to every AWS client and to osls: the flag, else AWS_PROFILE. */
export function awsProfile(profile: string | undefined): string | undefined {
  return profile || process.env.AWS_PROFILE || undefined;
}

/**
 * The region every AWS call of a command uses, resolved once: the flag, else the SDK's own
 * chain (AWS_REGION, then the profile's `region` in ~/.aws/config, and so on), so a user with
 * only AWS_PROFILE set gets that profile's region for run, status, logs, deploy and teardown.
 */
export async function resolveRegion(region: string | undefined, profile: string | undefined): Promise<string> {
  let r = region;
  if (!r) {
    const probe = new LambdaClient(profile ? { profile } : {});
    try {
      r = await probe.config.region();
    } catch {
      // The SDK throws "Region is missing" when its chain finds none.
    } finally {
      probe.destroy();
    }
  }
  if (!r) throw new ConfigError("no AWS region is set", "pass --region, or set AWS_REGION (or a region in your AWS profile)");
  if (!REGION.test(r)) throw new UsageError(`"${r}" is not an AWS region`, "use a region code such as us-east-1 or eu-west-1");
  return r;
}

/** Find the deployed function and bucket: flags and env first, then the stack's outputs. */
export async function resolveAwsTarget(o: AwsOptions): Promise<AwsTarget> {
  const profile = awsProfile(o.profile);
  const region = await resolveRegion(o.region, profile);
  let functionName = o.functionName ?? process.env.FANOUT_FUNCTION;
  let bucket = o.bucket ?? process.env.FANOUT_BUCKET;
  let tiers: MemoryTier[] | undefined;
  if (!functionName || !bucket) {
    const stage = o.stage ?? "dev";
    const outputs = await stackOutputs(region, profile, stage);
    // The stack's tiers only when its own worker runs: a function named by flag has no tiers.
    if (!functionName) tiers = parseTiers(outputs.get("WorkerTiers"));
    functionName ??= outputs.get("WorkerFunctionName");
    bucket ??= outputs.get("RunsBucketName");
    if (!functionName || !bucket) {
      throw new ConfigError(`stack ${stackName(stage)} has no WorkerFunctionName/RunsBucketName outputs`, "redeploy with `npx fanout deploy`");
    }
  }
  return {
    region,
    functionName,
    bucket,
    ...(tiers ? { tiers } : {}),
    ...(profile ? { profile } : {}),
    // Any Lambda/S3-compatible servers (LocalStack, a proxy, the emulator under another name).
    ...(o.lambdaEndpoint ? { lambdaEndpoint: o.lambdaEndpoint } : {}),
    ...(o.s3Endpoint ? { s3Endpoint: o.s3Endpoint } : {}),
  };
}

/**
 * The WorkerTiers output ("1024=fanout-dev-worker,3008=fanout-dev-worker3008", see
 * serverless-tiers.cjs) as tiers, ascending; undefined for a stack deployed before tiers.
 */
function parseTiers(text: string | undefined): MemoryTier[] | undefined {
  if (!text) return undefined;
  const tiers = text.split(",").flatMap((pair) => {
    const m = /^\s*(\d+)=(\S+)\s*$/.exec(pair);
    return m ? [{ memoryMb: Number(m[1]), functionName: m[2]! }] : [];
  });
  return tiers.length ? tiers.sort((a, b) => a.memoryMb - b.memoryMb) : undefined;
}

/**
 * The tier a run starts on: the one whose memory it asked for (`--memory`, or the job's
 * `defaults.memory`), else the stack's own worker function; every tier of a `--memory` list
 * must be deployed. A memory no tier has is a UsageError listing the deployed ones.
 */
export function pickTier(t: AwsTarget, asked: readonly number[] | undefined): MemoryTier | undefined {
  if (!t.tiers) return undefined;
  const missing = asked?.find((mb) => !t.tiers!.some((x) => x.memoryMb === mb));
  if (missing !== undefined) {
    const have = t.tiers.map((x) => x.memoryMb);
    throw new UsageError(
      `--memory ${missing} is not a deployed memory tier (the stack has ${have.join(", ")} MB)`,
      `pass --memory ${have.join(" or ")}, or deploy that tier with \`fanout deploy --memory ${[...have, missing].join(",")}\``,
    );
  }
  const first = asked?.[0];
  return t.tiers.find((x) => (first === undefined ? x.functionName === t.functionName : x.memoryMb === first));
}

/** The outputs of stack fanout-<stage>, or a ConfigError that says how to deploy it. */
async function stackOutputs(region: string, profile: string | undefined, stage: string): Promise<Map<string | undefined, string | undefined>> {
  const cf = new CloudFormationClient({ region, ...(profile ? { profile } : {}) });
  try {
    const out = await cf.send(new DescribeStacksCommand({ StackName: stackName(stage) }));
    return new Map((out.Stacks?.[0]?.Outputs ?? []).map((x) => [x.OutputKey, x.OutputValue]));
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
}

export function emulatedTarget(e: EmulatorEndpoints): AwsTarget {
  return {
    region: e.region,
    functionName: e.functionName,
    bucket: e.bucket,
    ...(e.tiers ? { tiers: parseTiers(e.tiers) } : {}),
    lambdaEndpoint: e.lambdaEndpoint,
    s3Endpoint: e.s3Endpoint,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
    ...(e.ssmEndpoint ? { ssmEndpoint: e.ssmEndpoint } : {}),
  };
}

/** The deployed function as preflight reads it: memory and architecture (how Lambda bills it), its timeout and /tmp. */
export interface DeployedFunction {
  memoryMb?: number;
  arch?: "arm64" | "x86_64";
  timeoutMs?: number;
  /** Ephemeral storage (/tmp) in MB. */
  tmpMb?: number;
}

function lambdaClientFor(t: AwsTarget): LambdaClient {
  return new LambdaClient({
    region: t.region,
    ...(t.profile ? { profile: t.profile } : {}),
    ...(t.credentials ? { credentials: t.credentials } : {}),
    ...(t.lambdaEndpoint ? { endpoint: t.lambdaEndpoint } : {}),
    maxAttempts: 1,
  });
}

/**
 * The account's unreserved concurrency (GetAccountSettings), which no run can exceed; undefined
 * where the caller may not read it (AccessDenied) or the endpoint does not answer it: the
 * adaptive limit then finds the ceiling from 429s alone.
 */
export async function accountConcurrency(t: AwsTarget): Promise<number | undefined> {
  const lambda = lambdaClientFor(t);
  try {
    const out = await lambda.send(new GetAccountSettingsCommand({}));
    const n = out.AccountLimit?.UnreservedConcurrentExecutions;
    return n && n > 0 ? n : undefined;
  } catch {
    return undefined;
  } finally {
    lambda.destroy();
  }
}

/** Fail fast, before any chunk runs, when the function is missing or the credentials are bad. */
export async function preflight(t: AwsTarget): Promise<DeployedFunction> {
  const lambda = lambdaClientFor(t);
  try {
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: t.functionName }));
    const arch = cfg.Architectures?.[0];
    return {
      ...(cfg.MemorySize ? { memoryMb: cfg.MemorySize } : {}),
      ...(arch === "arm64" || arch === "x86_64" ? { arch } : {}),
      ...(cfg.Timeout ? { timeoutMs: cfg.Timeout * 1000 } : {}),
      ...(cfg.EphemeralStorage?.Size ? { tmpMb: cfg.EphemeralStorage.Size } : {}),
    };
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
