// Helpers every command shares. A leaf: it imports no other cli/ module, so the commands can
// use it without importing main.ts (which imports them).
import { Option, type Command } from "commander";
import { UsageError } from "../src/errors.js";
import type { AwsOptions, BackendName } from "../src/options.js";
import { checkBackend } from "../src/options.js";
import { isRunId } from "../src/store/keys.js";
import type { ObjectStore } from "../src/store/types.js";

/** The AWS flags, as commander hands them over (strings, absent when not given). */
export interface AwsFlags {
  region?: string;
  profile?: string;
  stage?: string;
  function?: string;
  bucket?: string;
}

/** The flags addBackendOptions adds. */
export interface BackendFlags extends AwsFlags {
  backend?: string;
  store?: string;
}

/** Flags shared by every command that reaches a backend. */
export function addBackendOptions(cmd: Command, defaultBackend: BackendName = "local"): Command {
  return cmd
    .addOption(new Option("-b, --backend <name>", "where chunks run: local, aws, or emulated (AWS code path on a loopback stack)").default(defaultBackend))
    .option("--store <dir>", "folder of the local object store (default: .fanout at the project root, the nearest folder up with a package.json)")
    .option("--region <region>", "AWS region (default: AWS_REGION, then the profile's)")
    .option("--profile <name>", "AWS profile from ~/.aws (default: AWS_PROFILE)")
    .option("--stage <stage>", "deployment stage of the fanout stack", "dev")
    .option("--function <name>", "Lambda function name (default: discovered from the stack)")
    .option("--bucket <name>", "S3 bucket (default: discovered from the stack)");
}

export function awsOptionsFrom(f: AwsFlags): AwsOptions {
  return {
    ...(f.region ? { region: f.region } : {}),
    ...(f.profile ? { profile: f.profile } : {}),
    ...(f.stage ? { stage: f.stage } : {}),
    ...(f.function ? { functionName: f.function } : {}),
    ...(f.bucket ? { bucket: f.bucket } : {}),
  };
}

/** Open the store the backend flags name, hand it to `fn`, and close it whatever happens. */
export async function withStore<T>(flags: BackendFlags, fn: (store: ObjectStore) => Promise<T>): Promise<T> {
  // Loaded when a command runs: opening a store may bring the AWS SDK.
  const { openStore } = await import("../src/compute/open.js");
  const opened = await openStore({
    backend: checkBackend(flags.backend),
    cwd: process.cwd(),
    ...(flags.store ? { store: flags.store } : {}),
    aws: awsOptionsFrom(flags),
  });
  try {
    return await fn(opened.store);
  } finally {
    await opened.close();
  }
}

export function checkRunId(runId: string): void {
  if (!isRunId(runId)) throw new UsageError(`"${runId}" is not a run id`, "run ids look like 20261127T044612Z-k3j9xq; `fanout status` lists them");
}

/** Flags arrive as strings; the library's own checks give the same message either way. */
export const flag = <T>(check: (name: string, v: unknown) => T, name: string, v: string | undefined): T | undefined =>
  v === undefined ? undefined : check(name, v);

/** Resolves once stdout has taken the text, so an exit right after loses nothing. */
export function writeStdout(s: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(s, () => resolve()));
}
