/**
 * The part of the user's package-lock.json that the job's external packages need: each of
 * them and everything they depend on, at the paths, versions and integrity hashes the lock
 * holds, as the lockfile of a project of their own. `npm ci` of it installs the same tree the
 * user has, for another platform: npm skips the optional packages whose os, cpu or libc (all
 * recorded in the lock) do not match the flags it is given.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { InstalledPackage } from "./deps-detect.js";

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, LockEntry>;
}

/** The lockfile (package-lock.json or npm-shrinkwrap.json) nearest above `dir`, and its folder. */
export function findLockfile(dir: string): { root: string; lock: Lockfile } | undefined {
  for (let up = path.dirname(dir); path.dirname(up) !== up; up = path.dirname(up)) {
    for (const name of ["npm-shrinkwrap.json", "package-lock.json"]) {
      const file = path.join(up, name);
      if (!fs.existsSync(file)) continue;
      try {
        return { root: up, lock: JSON.parse(fs.readFileSync(file, "utf8")) as Lockfile };
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** A package's path in the lock, e.g. "node_modules/@node-rs/crc32". */
export function lockPath(root: string, dir: string): string {
  return path.relative(root, dir).split(path.sep).join("/");
}

/**
 * A lockfile (v3) for a project whose dependencies are `versions`, holding the entries of
 * `packages` and their dependencies from the user's lock; undefined when the user has no
 * (v2 or later) lockfile or it lacks one of them (then npm resolves the versions itself).
 */
export function subsetLockfile(packages: readonly InstalledPackage[], versions: Record<string, string>): object | undefined {
  const first = packages[0] && findLockfile(packages[0].dir);
  const all = first?.lock.packages;
  if (!first || !all || (first.lock.lockfileVersion ?? 1) < 2) return undefined;
  const picked: Record<string, LockEntry> = {};
  const queue = packages.map((p) => lockPath(first.root, p.dir));
  // Only top-level packages keep their paths in a project of their own.
  if (queue.some((p) => !/^node_modules\/(@[^/]+\/)?[^/]+$/.test(p))) return undefined;
  while (queue.length) {
    const at = queue.pop()!;
    if (picked[at]) continue;
    const entry = all[at];
    if (!entry || entry.link) return undefined;
    picked[at] = asProdEntry(entry);
    const deps = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies };
    for (const name of Object.keys(deps)) {
      const found = resolveInLock(all, at, name);
      if (found) queue.push(found);
    }
  }
  return { name: "fanout-deps", lockfileVersion: 3, requires: true, packages: { "": { name: "fanout-deps", dependencies: versions }, ...picked } };
}

/** Where Node would find `name` from the package at `from`: its own node_modules, then each one up. */
function resolveInLock(all: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let base = from; ; ) {
    const candidate = `${base}/node_modules/${name}`;
    if (all[candidate]) return candidate;
    const at = base.lastIndexOf("/node_modules/");
    if (at < 0) return all[`node_modules/${name}`] ? `node_modules/${name}` : undefined;
    base = base.slice(0, at);
  }
}

/** The entry as a production dependency of the new project (it may be a dev dependency of the user's). */
function asProdEntry(entry: LockEntry): LockEntry {
  const { dev: _dev, devOptional, ...rest } = entry;
  return devOptional ? { ...rest, optional: true } : rest;
}
