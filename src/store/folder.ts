import * as fs from "node:fs";
import * as path from "node:path";
import { NoSuchKeyError, type ObjectStore } from "./types.js";
import { processAlive } from "../util/process.js";

/** A write in progress: `<key>.<pid>.<seq>.tmp`, renamed to `<key>` once complete. */
const TEMP_NAME = /\.(\d+)\.\d+\.tmp$/;

/**
 * The local object store: a folder with exactly the key layout of the S3 bucket.
 * Writes go to a temporary name and are renamed into place, so a reader (or a resumed run)
 * never sees half an object, even when the writer is killed mid-write.
 */
export class FolderStore implements ObjectStore {
  readonly root: string;
  readonly location: string;
  private readonly madeDirs = new Set<string>();
  private seq = 0;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.location = this.root + path.sep;
  }

  localPath(key: string): string {
    return path.join(this.root, ...key.split("/"));
  }

  async get(key: string): Promise<Buffer> {
    try {
      return fs.readFileSync(this.localPath(key));
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async getIfExists(key: string): Promise<Buffer | undefined> {
    try {
      return fs.readFileSync(this.localPath(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    let fd: number;
    try {
      fd = fs.openSync(this.localPath(key), "r");
    } catch (err) {
      throw this.translate(err, key);
    }
    try {
      const size = fs.fstatSync(fd).size;
      const stop = Math.min(end, size);
      const buf = Buffer.allocUnsafe(Math.max(0, stop - start));
      let off = 0;
      while (off < buf.length) {
        const n = fs.readSync(fd, buf, off, buf.length - off, start + off);
        if (n === 0) break;
        off += n;
      }
      return buf.subarray(0, off);
    } finally {
      fs.closeSync(fd);
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const dest = this.localPath(key);
    const tmp = `${dest}.${process.pid}.${++this.seq}.tmp`;
    this.ensureDir(path.dirname(dest));
    try {
      await fs.promises.writeFile(tmp, body);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      // The folder went away under us (e.g. someone cleaned .fanout mid-run): make it again.
      this.madeDirs.delete(path.dirname(dest));
      this.ensureDir(path.dirname(dest));
      await fs.promises.writeFile(tmp, body);
    }
    await fs.promises.rename(tmp, dest);
  }

  async putFile(key: string, file: string): Promise<void> {
    const dest = this.localPath(key);
    this.ensureDir(path.dirname(dest));
    const tmp = `${dest}.${process.pid}.${++this.seq}.tmp`;
    await fs.promises.copyFile(file, tmp);
    fs.renameSync(tmp, dest);
  }

  async exists(key: string): Promise<boolean> {
    return fs.existsSync(this.localPath(key));
  }

  async list(prefix: string): Promise<string[]> {
    // Prefixes end at a "/" in our layout; a partial last segment filters names in that folder.
    const slash = prefix.lastIndexOf("/");
    const dirKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    const out: string[] = [];
    const walk = (dirRel: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(path.join(this.root, dirRel), { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
      for (const e of entries) {
        if (e.name.endsWith(".tmp")) continue;
        const rel = dirRel + e.name;
        if (e.isDirectory()) walk(rel + "/");
        else out.push(rel);
      }
    };
    let top: fs.Dirent[];
    try {
      top = fs.readdirSync(path.join(this.root, dirKey), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    for (const e of top) {
      if (!e.name.startsWith(namePrefix) || e.name.endsWith(".tmp")) continue;
      if (e.isDirectory()) walk(dirKey + e.name + "/");
      else out.push(dirKey + e.name);
    }
    return out.sort();
  }

  async delete(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      const p = this.localPath(key);
      fs.rmSync(p, { force: true });
      dirs.add(path.dirname(p));
    }
    // Drop folders left empty, deepest first, never the root itself.
    const sorted = [...dirs].sort((a, b) => b.length - a.length);
    for (let dir of sorted) {
      while (dir.startsWith(this.root + path.sep)) {
        try {
          fs.rmdirSync(dir);
        } catch {
          break;
        }
        this.madeDirs.delete(dir);
        dir = path.dirname(dir);
      }
    }
  }

  /**
   * Remove the temporary files of writers that are gone (a killed run or worker), so they do
   * not pile up. A live writer's files are left alone. Returns the paths removed (or, with
   * dryRun, that would be).
   */
  sweepTemp(dryRun = false): string[] {
    const removed = filesIn(this.root).filter((p) => {
      const m = TEMP_NAME.exec(p);
      return m !== null && !processAlive(Number(m[1]));
    });
    if (!dryRun) for (const p of removed) fs.rmSync(p, { force: true });
    return removed;
  }

  private ensureDir(dir: string): void {
    if (this.madeDirs.has(dir)) return;
    // Made here: say so to git, as pytest does for its cache, so `git status` stays clean.
    if (fs.mkdirSync(this.root, { recursive: true }) !== undefined) fs.writeFileSync(path.join(this.root, ".gitignore"), "*\n");
    fs.mkdirSync(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  private translate(err: unknown, key: string): unknown {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new NoSuchKeyError(key, this.location);
    return err;
  }
}

/** Every file under a folder, at any depth; none when it does not exist. */
export function filesIn(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}
