// `fanout deploy`: the worker Lambda, run bucket and scoped role (serverless.yml) to AWS.
import { Option, type Command } from "commander";
import { ConfigError, UsageError } from "../../src/errors.js";
import { intInRange } from "../../src/options.js";
import { flag } from "../common.js";

interface DeployFlags {
  stage: string;
  region?: string;
  profile?: string;
  memory?: string;
  timeout?: string;
  /** arm64 or x86_64: commander checks the choice. */
  arch?: string;
  expireDays?: string;
  read: string[];
  write: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** A --read/--write grant: s3://bucket or s3://bucket/prefix, a prefix taken literally (IAM would read * and ? as wildcards). */
function grantUrl(flagName: string, url: string): string {
  const m = /^s3:\/\/([^/]+)(\/.*)?$/.exec(url);
  if (!m || !BUCKET.test(m[1]!) || /[*?,]/.test(m[2] ?? "")) {
    throw new UsageError(`--${flagName} "${url}" is not an s3://bucket/prefix URL`, `e.g. --${flagName} s3://my-bucket/logs/2024/ (a literal prefix: no *, ? or commas)`);
  }
  return url;
}

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("deploy the worker Lambda, run bucket and scoped IAM role (serverless.yml) to AWS")
    .option("--stage <stage>", "stack name suffix: each developer or branch its own (fanout-<stage>)", "dev")
    .option("--region <region>", "AWS region (default: AWS_REGION, then the profile's)")
    .option("--profile <name>", "AWS profile (default: AWS_PROFILE)")
    .option("--memory <mb>", "worker memory, 128-10240 MB (default 1769 = one vCPU)")
    .option("--timeout <seconds>", "Lambda timeout, 1-900 s (default 900)")
    .addOption(new Option("--arch <arch>", "worker architecture (default arm64)").choices(["arm64", "x86_64"]))
    .option("--expire-days <days>", "run data in the bucket expires after this many days (default 7)")
    .option("--read <s3url>", "let the workers read s3://bucket/prefix (GetObject, ListBucket on that prefix only); repeatable", collect, [])
    .option("--write <s3url>", "let the workers write under s3://bucket/prefix (PutObject on that prefix only); repeatable", collect, [])
    .addHelpText("after", "\nExamples:\n  $ npx fanout deploy --stage dev --region eu-west-1 --memory 1769\n  $ npx fanout deploy --read s3://in-bucket/logs/ --write s3://out-bucket/results/\n")
    .action(deployAction);
}

/** `--param` values for serverless.yml, checked against Lambda's limits. */
function deployParams(f: DeployFlags): string[] {
  const params: string[] = [];
  // Lambda's limits: memory 128-10240 MB, timeout 1-900 s.
  const memory = flag((n, v) => intInRange(n, v, 128, 10240), "memory", f.memory);
  const timeout = flag((n, v) => intInRange(n, v, 1, 900), "timeout", f.timeout);
  const days = flag((n, v) => intInRange(n, v, 1, 3650), "expire-days", f.expireDays);
  if (memory !== undefined) params.push(`--param=memory=${memory}`);
  if (timeout !== undefined) params.push(`--param=timeout=${timeout}`);
  if (f.arch) params.push(`--param=arch=${f.arch}`);
  if (days !== undefined) params.push(`--param=expireDays=${days}`);
  // serverless-grants.cjs turns these into the worker role's prefix-scoped statements.
  if (f.read.length) params.push(`--param=read=${f.read.map((u) => grantUrl("read", u)).join(",")}`);
  if (f.write.length) params.push(`--param=write=${f.write.map((u) => grantUrl("write", u)).join(",")}`);
  return params;
}

async function deployAction(f: DeployFlags): Promise<void> {
  const params = deployParams(f);
  const { awsArgs, lambdaWorkerBuilt, serverless } = await import("../serverless.js");
  if (!lambdaWorkerBuilt()) throw new ConfigError("the Lambda worker is not built", "run `npm run build` in the fanout package");
  process.stderr.write(`fanout: deploying stack fanout-${f.stage} (worker Lambda, run bucket, scoped role) with the Serverless Framework\n`);
  const code = await serverless(["deploy", ...awsArgs(f), ...params]);
  if (code !== 0) throw new ConfigError(`serverless deploy failed (exit ${code})`, "see its output above; credentials come from the standard AWS chain (--profile, AWS_PROFILE, env)");
  process.stderr.write(`fanout: deployed. Run jobs with: npx fanout run job.ts --backend aws --stage ${f.stage}${f.region ? ` --region ${f.region}` : ""}\n`);
}
