/**
 * Age-based pruning of the local store (`fanout gc --older-than 7d`): runs untouched for longer
 * than the cutoff go, with the bundles and inputs no kept run names, and the temporary files
 * of writers that were killed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { keys } from "./keys.js";
import { filesIn, type FolderStore } from "./folder.js";

export interface GcPlan {
  /** Runs whose newest file is older than the cutoff, oldest first. */
  runs: { runId: string; lastActivityMs: number; objects: number }[];
  keptRuns: number;
  /** bundles/ and inputs/ keys that no kept run names (and not written since the cutoff). */
  unreferenced: string[];
  /** Temporary files of writers that are gone. */
  temps: string[];
}

/** What `gc` would remove; removes nothing. */
export function planGc(store: FolderStore, olderThanMs: number, now = Date.now()): GcPlan {
  const cutoff = now - olderThanMs;
  const runsDir = store.localPath("runs");
  const runs: GcPlan["runs"] = [];
  const referenced = new Set<string>();
  let keptRuns = 0;
  let referencesKnown = true;
  for (const runId of subfolders(runsDir)) {
    const files = filesUnder(path.join(runsDir, runId));
    const lastActivityMs = Math.max(0, ...files.map((f) => f.mtimeMs));
    if (lastActivityMs < cutoff) {
      runs.push({ runId, lastActivityMs, objects: files.length });
      continue;
    }
    keptRuns++;
    const named = keysNamedBy(store, runId);
    if (named) for (const k of named) referenced.add(k);
    // A run still starting has no manifest yet: what it uses is unknown, so keep them all.
    else referencesKnown = false;
  }
  const unreferenced: string[] = [];
  if (referencesKnown) {
    for (const prefix of ["bundles", "inputs"]) {
      for (const f of filesUnder(store.localPath(prefix))) {
        const key = `${prefix}/${path.relative(store.localPath(prefix), f.path).split(path.sep).join("/")}`;
        if (!referenced.has(key) && f.mtimeMs < cutoff && !f.path.endsWith(".tmp")) unreferenced.push(key);
      }
    }
  }
  runs.sort((a, b) => a.lastActivityMs - b.lastActivityMs);
  return { runs, keptRuns, unreferenced, temps: store.sweepTemp(true) };
}

/** Remove what planGc found. */
export async function applyGc(store: FolderStore, plan: GcPlan): Promise<void> {
  for (const r of plan.runs) fs.rmSync(store.localPath(keys.runPrefix(r.runId)), { recursive: true, force: true });
  await store.delete(plan.unreferenced);
  store.sweepTemp();
}

/** Every bundles/ or inputs/ key a run's manifest names, or undefined without a manifest. */
function keysNamedBy(store: FolderStore, runId: string): string[] | undefined {
  let manifest: unknown;
  try {
    manifest = JSON.parse(fs.readFileSync(store.localPath(keys.manifest(runId)), "utf8"));
  } catch {
    return undefined;
  }
  const out: string[] = [];
  // Any string field that is such a key, wherever the manifest keeps it.
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      if (v.startsWith("bundles/") || v.startsWith("inputs/")) out.push(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(manifest);
  return out;
}

function subfolders(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Files under a folder with their modification times. */
function filesUnder(dir: string): { path: string; mtimeMs: number }[] {
  const out: { path: string; mtimeMs: number }[] = [];
  for (const p of filesIn(dir)) {
    try {
      out.push({ path: p, mtimeMs: fs.statSync(p).mtimeMs });
    } catch {
      // Gone since the listing (renamed into place, or removed): nothing to count.
    }
  }
  return out;
}
