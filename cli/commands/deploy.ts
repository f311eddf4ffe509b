// `fanout deploy`: the worker Lambda, run bucket and scoped role (serverless.yml) to AWS.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Option, type Command } from "commander";
import { ConfigError, UsageError } from "../../src/errors.js";
import { intInRange, memoryTiers } from "../../src/options.js";
import { flag } from "../common.js";

/** The flags of `fanout deploy`, as commander hands them over. */
export interface DeployFlags {
  stage: string;
  region?: string;
  profile?: string;
  memory?: string;
  timeout?: string;
  /** arm64 or x86_64: commander checks the choice. */
  arch?: string;
  expireDays?: string;
  tmp?: string;
  /** A JSON file of IAM statements the job needs, added to the worker role. */
  workerPolicy?: string;
  secrets?: string;
  /** s3://bucket/prefix URLs the workers may read or write (repeatable flags). */
  read?: string[];
  write?: string[];
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

/** `--read`/`--write` as serverless.yml parameters; serverless-grants.cjs turns them into prefix-scoped statements. */
function grantParams(f: DeployFlags): string[] {
  const params: string[] = [];
  if (f.read?.length) params.push(`--param=read=${f.read.map((u) => grantUrl("read", u)).join(",")}`);
  if (f.write?.length) params.push(`--param=write=${f.write.map((u) => grantUrl("write", u)).join(",")}`);
  return params;
}

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("deploy the worker Lambda, run bucket and scoped IAM role (serverless.yml) to AWS")
    .option("--stage <stage>", "stack name suffix: each developer or branch its own (fanout-<stage>)", "dev")
    .option("--region <region>", "AWS region (default: AWS_REGION, then the profile's)")
    .option("--profile <name>", "AWS profile (default: AWS_PROFILE)")
    .option(
      "--memory <mb>",
      "worker memory, 128-10240 MB (default 1769 = one vCPU); a list 1024,3008,10240 deploys one worker per memory tier (the first is the default), for `run --memory` and `--oom-retry`",
    )
    .option(
      "--timeout <seconds>",
      "Lambda timeout, 1-900 s (default 300, the default --timeout of a run). A run's --timeout may not exceed it: past it Lambda stops the chunk unannounced",
    )
    .addOption(new Option("--arch <arch>", "worker architecture (default arm64)").choices(["arm64", "x86_64"]))
    .option("--expire-days <days>", "run data in the bucket expires after this many days (default 7)")
    .option("--tmp <MB>", "each worker's /tmp (ephemeral storage) in MB, 512-10240, for the job's assets and native packages (default 512)")
    .option("--worker-policy <file>", "JSON file of IAM statements the job needs (other AWS services), added to the worker role")
    .option("--secrets <prefix>", "let the workers read SSM parameters under this path (e.g. /myapp), and Secrets Manager secrets named myapp/...")
    .option("--read <s3url>", "let the workers read s3://bucket/prefix (GetObject, ListBucket on that prefix only); repeatable", collect, [])
    .option("--write <s3url>", "let the workers write under s3://bucket/prefix (PutObject on that prefix only); repeatable", collect, [])
    .addHelpText(
      "after",
      "\nExamples:\n  $ npx fanout deploy --stage dev --region eu-west-1 --memory 1769\n  $ npx fanout deploy --memory 1024,3008,10240   # memory tiers: run --memory 3008, --oom-retry\n  $ npx fanout deploy --read s3://in-bucket/logs/ --write s3://out-bucket/results/\n  $ npx fanout deploy --worker-policy policy.json   # {\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"ssm:GetParameter\", \"Resource\": \"arn:aws:ssm:...\"}]}\n",
    )
    .action(deployAction);
}

/** `--param` values for serverless.yml, checked against Lambda's limits. */
function limitParams(f: DeployFlags): string[] {
  const params: string[] = [];
  // Lambda's limits: memory 128-10240 MB, timeout 1-900 s.
  const tiers = f.memory === undefined ? undefined : memoryTiers(f.memory, (n, v) => intInRange(n, v, 128, 10240));
  const timeout = flag((n, v) => intInRange(n, v, 1, 900), "timeout", f.timeout);
  const days = flag((n, v) => intInRange(n, v, 1, 3650), "expire-days", f.expireDays);
  // Lambda's ephemeral storage: 512-10240 MB.
  const tmp = flag((n, v) => intInRange(n, v, 512, 10240), "tmp", f.tmp);
  // The first tier is the `worker` function; each other one is a worker<MB> function (serverless-tiers.cjs).
  if (tiers) params.push(`--param=memory=${tiers[0]}`);
  if (tiers && tiers.length > 1) params.push(`--param=tiers=${tiers.join(",")}`);
  if (timeout !== undefined) params.push(`--param=timeout=${timeout}`);
  if (f.arch) params.push(`--param=arch=${f.arch}`);
  if (days !== undefined) params.push(`--param=expireDays=${days}`);
  if (tmp !== undefined) params.push(`--param=tmp=${tmp}`);
  if (f.secrets !== undefined) {
    // A path, so the grant is exactly that subtree: no wildcards, no trailing "/".
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(f.secrets)) {
      throw new UsageError(`--secrets must be a parameter path prefix such as /myapp, got "${f.secrets}"`, "e.g. --secrets /myapp (the workers may then read /myapp/... and secrets named myapp/...)");
    }
    params.push(`--param=secretsPrefix=${f.secrets}`, `--param=secretsName=${f.secrets.slice(1)}`);
  }
  return params;
}

type Statement = Record<string, unknown>;

/**
 * The statements of a `--worker-policy` file: an IAM policy document ({"Statement": [...]}), a
 * list of statements, or one statement. Each needs Effect, Action (or NotAction) and Resource.
 */
function readWorkerPolicy(file: string): Statement[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`cannot read the worker policy file ${file}`, "pass a JSON file of IAM statements, e.g. --worker-policy policy.json");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not JSON: ${(err as Error).message}`, 'write {"Statement": [{"Effect": "Allow", "Action": "...", "Resource": "arn:..."}]}');
  }
  const list = Array.isArray(doc) ? doc : doc && typeof doc === "object" && "Statement" in doc ? (doc as { Statement: unknown }).Statement : doc;
  const statements = (Array.isArray(list) ? list : [list]) as unknown[];
  const bad = statements.findIndex(
    (s) => !s || typeof s !== "object" || !("Effect" in s) || !("Action" in s || "NotAction" in s) || !("Resource" in s || "NotResource" in s),
  );
  if (statements.length === 0 || bad >= 0) {
    throw new UsageError(
      `${file} has ${statements.length === 0 ? "no statements" : `a statement (#${bad + 1}) without Effect, Action and Resource`}`,
      'each statement needs all three, e.g. {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:..."}',
    );
  }
  return statements as Statement[];
}

/** The CloudFormation fragment serverless.yml merges in: the statements as one more policy on the worker role. */
function workerPolicyFragment(statements: Statement[], stage: string): object {
  return {
    Resources: {
      WorkerExtraPolicy: {
        Type: "AWS::IAM::Policy",
        Properties: {
          PolicyName: `fanout-worker-extra-${stage}`,
          Roles: [{ Ref: "WorkerRole" }],
          PolicyDocument: { Version: "2012-10-17", Statement: statements },
        },
      },
    },
  };
}

/**
 * The `--param`s `fanout deploy` hands to osls: Lambda's limits checked, and the worker policy
 * (if any) written under `tmpDir` as the fragment serverless.yml merges in.
 * @public tests import it from dist/, which knip cannot follow.
 */
export function deployParams(f: DeployFlags, tmpDir: string): string[] {
  const params = limitParams(f);
  if (f.workerPolicy) {
    const file = path.join(tmpDir, "worker-policy.json");
    fs.writeFileSync(file, JSON.stringify(workerPolicyFragment(readWorkerPolicy(f.workerPolicy), f.stage), null, 2));
    params.push(`--param=workerPolicy=${file}`);
  }
  params.push(...grantParams(f));
  return params;
}

async function deployAction(f: DeployFlags): Promise<void> {
  // Bad flags fail before any AWS lookup.
  limitParams(f);
  grantParams(f);
  if (f.workerPolicy) readWorkerPolicy(f.workerPolicy);
  const { oslsArgs, lambdaWorkerBuilt, serverless, stackPlace } = await import("../serverless.js");
  if (!lambdaWorkerBuilt()) throw new ConfigError("the Lambda worker is not built", "run `npm run build` in the fanout package");
  const at = await stackPlace(f);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-deploy-"));
  try {
    const argv = oslsArgs("deploy", at, deployParams(f, tmp));
    process.stderr.write(`fanout: deploying stack fanout-${f.stage} in ${at.region} (worker Lambda, run bucket, scoped role) with the Serverless Framework\n`);
    const code = await serverless(argv);
    if (code !== 0) throw new ConfigError(`serverless deploy failed (exit ${code})`, "see its output above; credentials come from the standard AWS chain (--profile, AWS_PROFILE, env)");
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stderr.write(`fanout: deployed. Run jobs with: npx fanout run job.ts --backend aws --stage ${f.stage} --region ${at.region}\n`);
}
