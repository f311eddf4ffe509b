/**
 * A job's external packages installed for the platform its workers run on, in a project of
 * their own: `npm install --os=linux --cpu=<arch> --libc=glibc`, which makes npm pick the
 * optional platform packages (@node-rs/crc32-linux-arm64-gnu, @img/sharp-linux-arm64) of the
 * target rather than of this machine. Install scripts are not run: they would build or
 * download binaries for this machine, and prebuilt packages (napi-rs, sharp since 0.33) need none.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../errors.js";
import { readPackageJson, type InstalledPackage } from "./deps-detect.js";
import { findLockfile, lockPath } from "./deps-lock.js";

/** Where workers run: Lambda's (or the emulated stack's) os, cpu and libc. */
export interface Platform {
  os: string;
  cpu: string;
  libc?: string;
}

/** "linux-arm64", as npm's platform packages spell it. */
export function platformName(p: Platform): string {
  return `${p.os}-${p.cpu}`;
}

/** Each package's version as the user's lockfile pins it (else as installed). */
export function lockedVersions(packages: readonly InstalledPackage[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of packages) {
    const found = findLockfile(p.dir);
    out[p.name] = found?.lock.packages?.[lockPath(found.root, p.dir)]?.version ?? readPackageJson(p.dir)?.version ?? "*";
  }
  return out;
}

/**
 * Install `versions` for `platform` into `dir` (made empty first); resolves when npm is done.
 * With `lock` (the user's lockfile's entries for them), `npm ci` installs exactly those
 * versions, their dependencies' too; without, `npm install` resolves their dependencies.
 */
export async function installFor(versions: Record<string, string>, platform: Platform, dir: string, lock?: object): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "fanout-deps", private: true, dependencies: versions }, null, 2));
  if (lock) fs.writeFileSync(path.join(dir, "package-lock.json"), JSON.stringify(lock, null, 2));
  const args = [
    lock ? "ci" : "install",
    `--os=${platform.os}`,
    `--cpu=${platform.cpu}`,
    ...(platform.libc ? [`--libc=${platform.libc}`] : []),
    "--omit=dev",
    "--ignore-scripts",
    ...(lock ? [] : ["--no-package-lock"]),
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--prefix",
    dir,
  ];
  await new Promise<void>((resolve, reject) => {
    execFile("npm", args, { cwd: dir, env: npmEnv(), maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const last = String(stderr).trim().split("\n").filter((l) => !/^npm (warn|notice)/.test(l)).slice(-2).join(" ").trim();
      reject(
        new ConfigError(
          `npm install of the job's native packages for ${platformName(platform)} failed: ${last || (err as Error).message}`,
          `check your network and npm registry (npm config get registry), then run again; the packages were ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(", ")}`,
          err,
        ),
      );
    });
  });
}

/** This process's environment without the npm settings an enclosing `npm run`/`npx` sets for its own project. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^npm_config_(global|prefix|local_prefix|os|cpu|libc|omit|include|ignore_scripts|save.*|package_lock.*)$/i.test(k)) delete env[k];
  }
  return env;
}
