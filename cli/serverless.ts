// The Serverless Framework (osls), run in fanout's package root where serverless.yml lives.
// deploy and teardown import this when they run.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../src/compute/aws/emulator.js";
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

/** The stack's stage, region and profile as serverless flags. */
export function awsArgs(f: { stage: string; region?: string; profile?: string }): string[] {
  return ["--stage", f.stage, ...(f.region ? ["--region", f.region] : []), ...(f.profile ? ["--aws-profile", f.profile] : [])];
}

/** Whether the Lambda worker bundle a deploy uploads has been built. */
export function lambdaWorkerBuilt(): boolean {
  return fs.existsSync(path.join(PACKAGE_ROOT, "dist", "lambda", "index.mjs"));
}
