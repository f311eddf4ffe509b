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
  secrets?: string;
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
    .option("--secrets <prefix>", "let the workers read SSM parameters under this path (e.g. /myapp), and Secrets Manager secrets named myapp/...")
    .addHelpText("after", "\nExample:\n  $ npx fanout deploy --stage dev --region eu-west-1 --memory 1769\n")
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
  if (f.secrets !== undefined) {
    // A path, so the grant is exactly that subtree: no wildcards, no trailing "/".
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(f.secrets)) {
      throw new UsageError(`--secrets must be a parameter path prefix such as /myapp, got "${f.secrets}"`, "e.g. --secrets /myapp (the workers may then read /myapp/... and secrets named myapp/...)");
    }
    params.push(`--param=secretsPrefix=${f.secrets}`, `--param=secretsName=${f.secrets.slice(1)}`);
  }
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
