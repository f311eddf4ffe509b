/** Where the local store is (one `.fanout` per project) and opening it. */
import * as fs from "node:fs";
import * as path from "node:path";
import { FolderStore } from "./folder.js";

/** The nearest folder from cwd upward with a package.json; cwd itself when there is none. 
 * @public tests import it from dist/, which knip cannot follow
 */
export function projectRoot(cwd: string): string {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(cwd);
  }
}

/** A given store is taken from cwd; the default is one `.fanout` per project, from any subfolder. */
export function localStoreRoot(cwd: string, store?: string): string {
  return store !== undefined ? path.resolve(cwd, store) : path.join(projectRoot(cwd), ".fanout");
}

/**
 * Where an emulated stack that fanout starts itself keeps its S3 objects: inside the
 * project's store, so a run's results outlive the stack (for --resume, status, logs).
 */
export function emulatedStoreDir(cwd: string, store?: string): string {
  return path.join(localStoreRoot(cwd, store), "emulated-s3");
}

/** The local store, rid of temporary files its killed writers left. */
export function openFolderStore(cwd: string, store?: string): FolderStore {
  const opened = new FolderStore(localStoreRoot(cwd, store));
  opened.sweepTemp();
  return opened;
}
