// The Serverless Framework (osls), run in fanout's package root where serverless.yml lives.
// deploy and teardown import this when they run.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../src/compute/aws/emulator.js";
import { awsProfile, resolveRegion } from "../src/compute/aws/target.js";
import { ConfigError } from "../src/errors.js";

function serverlessBin(): string {
  const bin = path.join(PACKAGE_ROOT, "node_modules", "osls", "bin", "serverless.js");
  if (fs.existsSync(bin)) return bin;
  try {
    return new URL(import.meta.resolve("osls/bin/serverless.js")).pathname;
  } catch {
    throw new ConfigError("deploying needs the Serverless Framework (osls), which is not installed", "npm install --save-dev osls serverless-offline@13 (with legacy-peer-deps=true in .npmrc)");
  }
}

/** Run `serverless <args>`; resolves with its exit code. */
export function serverless(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
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

/** Where a stack goes: its stage, the region fanout resolved, and the profile (if any). */
export interface StackPlace {
  stage: string;
  region: string;
  profile?: string;
}

/** The stack's stage, and its region and profile resolved as every AWS client of fanout resolves them. */
export async function stackPlace(f: { stage: string; region?: string; profile?: string }): Promise<StackPlace> {
  const profile = awsProfile(f.profile);
  return { stage: f.stage, region: await resolveRegion(f.region, profile), ...(profile ? { profile } : {}) };
}

/**
 * The argv of `serverless deploy|remove`: always `--region`, since osls ignores AWS_REGION and
 * the profile's region and would fall back to us-east-1; `--aws-profile` whenever a profile is
 * named (flag or AWS_PROFILE). With none, no flag: `--aws-profile default` would hide the
 * environment's keys, which the SDK's chain (and osls's) reads first.
 * @public tests import it from dist/, which knip cannot follow.
 */
export function oslsArgs(verb: "deploy" | "remove", at: StackPlace, params: readonly string[] = []): string[] {
  return [verb, "--stage", at.stage, "--region", at.region, ...(at.profile ? ["--aws-profile", at.profile] : []), ...params];
}

/** Whether the Lambda worker bundle a deploy uploads has been built. */
export function lambdaWorkerBuilt(): boolean {
  return fs.existsSync(path.join(PACKAGE_ROOT, "dist", "lambda", "index.mjs"));
}
