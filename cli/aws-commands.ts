import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, Option } from "commander";
import { ConfigError, UsageError } from "../src/errors.js";
import { PACKAGE_ROOT, startEmulator } from "../src/compute/aws/emulator.js";
import { checkBackend, intInRange } from "../src/options.js";
import type { ObjectStore } from "../src/store/types.js";
import { addBackendOptions, awsOptionsFrom, flag, writeStdout } from "./common.js";

interface DeployFlags {
  stage: string;
  region?: string;
  profile?: string;
  memory?: string;
  timeout?: string;
  arch?: string;
  expireDays?: string;
}

function serverlessBin(): string {
  const bin = path.join(PACKAGE_ROOT, "node_modules", "osls", "bin", "serverless.js");
  if (fs.existsSync(bin)) return bin;
  try {
    return new URL(import.meta.resolve("osls/bin/serverless.js")).pathname;
  } catch {
    throw new ConfigError("deploying needs the Serverless Framework (osls), which is not installed", "npm install --save-dev osls serverless-offline@13 (with legacy-peer-deps=true in .npmrc)");
  }
}

/** Run the Serverless Framework in fanout's package root, where serverless.yml lives. */
function serverless(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverlessBin(), ...args], {
      cwd: PACKAGE_ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, NPM_CONFIG_UPDATE_NOTIFIER: "false", SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off", ...env },
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

/** `--param` values for serverless.yml, checked against Lambda's limits. */
function deployParams(f: DeployFlags): string[] {
  const params: string[] = [];
  // Lambda's limits: memory 128-10240 MB, timeout 1-900 s.
  const memory = flag((n, v) => intInRange(n, v, 128, 10240), "memory", f.memory);
  const timeout = flag((n, v) => intInRange(n, v, 1, 900), "timeout", f.timeout);
  const days = flag((n, v) => intInRange(n, v, 1, 3650), "expire-days", f.expireDays);
  if (f.arch !== undefined && f.arch !== "arm64" && f.arch !== "x86_64") throw new UsageError(`--arch must be arm64 or x86_64, got "${f.arch}"`, "e.g. --arch arm64");
  if (memory !== undefined) params.push(`--param=memory=${memory}`);
  if (timeout !== undefined) params.push(`--param=timeout=${timeout}`);
  if (f.arch) params.push(`--param=arch=${f.arch}`);
  if (days !== undefined) params.push(`--param=expireDays=${days}`);
  return params;
}

function awsArgs(f: { stage: string; region?: string; profile?: string }): string[] {
  return ["--stage", f.stage, ...(f.region ? ["--region", f.region] : []), ...(f.profile ? ["--aws-profile", f.profile] : [])];
}

async function deployAction(f: DeployFlags): Promise<void> {
  const params = deployParams(f);
  if (!fs.existsSync(path.join(PACKAGE_ROOT, "dist", "lambda", "index.mjs"))) {
    throw new ConfigError("the Lambda worker is not built", "run `npm run build` in the fanout package");
  }
  process.stderr.write(`fanout: deploying stack fanout-${f.stage} (worker Lambda, run bucket, scoped role) with the Serverless Framework\n`);
  const code = await serverless(["deploy", ...awsArgs(f), ...params]);
  if (code !== 0) throw new ConfigError(`serverless deploy failed (exit ${code})`, "see its output above; credentials come from the standard AWS chain (--profile, AWS_PROFILE, env)");
  process.stderr.write(`fanout: deployed. Run jobs with: npx fanout run job.ts --backend aws --stage ${f.stage}${f.region ? ` --region ${f.region}` : ""}\n`);
}

/** Every object fanout writes lives under these prefixes of the bucket (see src/keys.ts). */
const PREFIXES = ["bundles/", "inputs/", "runs/"];

async function inventory(store: ObjectStore): Promise<{ keys: string[]; lines: string[] }> {
  const keys: string[] = [];
  const lines: string[] = [];
  for (const prefix of PREFIXES) {
    const ks = await store.list(prefix);
    for (const k of ks) keys.push(k);
    if (prefix === "runs/") {
      const runs = new Map<string, number>();
      for (const k of ks) {
        const id = k.split("/")[1]!;
        runs.set(id, (runs.get(id) ?? 0) + 1);
      }
      for (const [id, n] of runs) lines.push(`  ${store.location}runs/${id}/  (${n} objects)`);
      if (runs.size === 0) lines.push(`  ${store.location}runs/  (no runs)`);
    } else lines.push(`  ${store.location}${prefix}  (${ks.length} objects)`);
  }
  return { keys, lines };
}

interface TeardownFlags {
  backend?: string;
  store?: string;
  stage: string;
  region?: string;
  profile?: string;
  function?: string;
  bucket?: string;
  dryRun?: boolean;
}

async function teardownAction(f: TeardownFlags): Promise<void> {
  const backend = checkBackend(f.backend ?? "aws");
  const { openStore } = await import("../src/compute/open.js");
  const opened = await openStore({ backend, cwd: process.cwd(), ...(f.store ? { store: f.store } : {}), aws: awsOptionsFrom(f) });
  const out: string[] = [];
  try {
    const inv = await inventory(opened.store);
    const verb = f.dryRun ? "would remove" : "removing";
    out.push(`fanout teardown (${backend}${backend === "aws" ? `, stack fanout-${f.stage}` : ""}): ${verb}`);
    if (backend === "aws") {
      out.push(`  CloudFormation stack fanout-${f.stage}: the worker Lambda (fanout-${f.stage}-worker), its log group, the run bucket, the worker role, and the Serverless deployment bucket`);
    }
    out.push(`  ${inv.keys.length} objects fanout wrote:`, ...inv.lines);
    await writeStdout(out.join("\n") + "\n");
    if (f.dryRun) return;
    // The bucket must be empty before CloudFormation can delete it.
    await opened.store.delete(inv.keys);
    const left = (await inventory(opened.store)).keys.length;
    if (left) throw new ConfigError(`${left} objects are still in ${opened.store.location} after deleting`, "run teardown again");
    await writeStdout(`removed ${inv.keys.length} objects from ${opened.store.location}\n`);
  } finally {
    await opened.close();
  }
  if (backend === "aws" && !f.dryRun) {
    const code = await serverless(["remove", ...awsArgs(f)]);
    if (code !== 0) throw new ConfigError(`serverless remove failed (exit ${code})`, "see its output above, then run `fanout teardown` again");
    await writeStdout(`removed stack fanout-${f.stage} and everything in it\n`);
  }
  if (backend === "emulated") await writeStdout("the emulated stack itself stops with `fanout emulate` (Ctrl-C)\n");
}

async function emulateAction(f: { stage: string }): Promise<void> {
  // Objects stay in the project's store after Ctrl-C, for status, logs and --resume.
  const { emulatedStoreDir } = await import("../src/compute/open.js");
  const emu = await startEmulator({ stage: f.stage, dir: emulatedStoreDir(process.cwd()) });
  const endpoints = {
    region: emu.region,
    s3Endpoint: emu.s3Endpoint,
    lambdaEndpoint: emu.lambdaEndpoint,
    bucket: emu.bucket,
    functionName: emu.functionName,
  };
  await writeStdout(
    [
      "emulated AWS stack on loopback (Ctrl-C stops it):",
      `  S3      ${emu.s3Endpoint}   s3rver, bucket ${emu.bucket}, data in ${emu.dir}`,
      `  Lambda  ${emu.lambdaEndpoint}   serverless-offline, function ${emu.functionName}`,
      "point runs (and status, logs, teardown) at it from another shell:",
      `  export FANOUT_EMULATOR='${JSON.stringify(endpoints)}'`,
      "  npx fanout run examples/pi.ts --chunks 360 --backend emulated",
      "",
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await emu.stop();
  process.stderr.write("emulated stack stopped\n");
}

export function registerAwsCommands(program: Command): void {
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
    .addHelpText("after", "\nExample:\n  $ npx fanout deploy --stage dev --region eu-west-1 --memory 1769\n")
    .action(deployAction);

  const teardown = program
    .command("teardown")
    .description("remove every object fanout wrote and the whole stack; says what it removes")
    .option("--dry-run", "list what would be removed, remove nothing");
  // Teardown is about AWS unless told otherwise.
  addBackendOptions(teardown, "aws");
  teardown.addHelpText("after", "\nExamples:\n  $ npx fanout teardown --dry-run\n  $ npx fanout teardown --stage dev --region eu-west-1\n  $ npx fanout teardown --backend emulated   # empties the emulated bucket\n");
  teardown.action(teardownAction);

  program
    .command("emulate")
    .description("keep an emulated AWS stack (s3rver + serverless-offline) running on loopback")
    .option("--stage <stage>", "stage of the emulated stack", "dev")
    .action(emulateAction);
}
