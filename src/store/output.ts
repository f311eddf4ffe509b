/**
 * A run's output (`--output`): where `ctx.write` puts objects. Keys under the location are
 * `<runId>/<chunk>/<name>` once committed and `<runId>/.staging/<chunk>-<attempt>/<name>`
 * while the attempt runs, so a failed attempt, a retry or a speculative copy never shows in
 * the committed set. The location is `s3://bucket/prefix/` (the SDK loads only then) or an
 * absolute folder path.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import type { OutputBody } from "../job/index.js";
import { counted, type OutputObject, type OutputSink } from "./output-sink.js";
import type { UserS3Access } from "./s3-data.js";

/** The keys of a run's outputs, relative to the output location. */
export const outputKeys = {
  run: (runId: string) => `${runId}/`,
  staging: (runId: string) => `${runId}/.staging/`,
  attempt: (runId: string, index: number, attempt: number) => `${runId}/.staging/${index}-${attempt}/`,
  /** The chunk's commit claim: the first successful attempt to create it commits its outputs. */
  claim: (runId: string, index: number) => `${runId}/.claims/${index}`,
  claims: (runId: string) => `${runId}/.claims/`,
  /** Keys under a run's output that are fanout's bookkeeping, not outputs (staging, claims). */
  hidden: (runId: string) => `${runId}/.`,
  final: (runId: string, index: number, name: string) => `${runId}/${index}/${name}`,
  /** Where a chunk's committed outputs live (the ending / keeps chunk 1 from matching 10). */
  chunk: (runId: string, index: number) => `${runId}/${index}/`,
};

/** Why `name` cannot name an output, or undefined: a relative path without empty, `.` or `..` parts. */
export function badOutputName(name: unknown): string | undefined {
  if (typeof name !== "string" || name === "") return "the name must be a non-empty string";
  if (name.startsWith("/") || name.includes("\\")) return "the name must be a relative path with / between its parts";
  if (name.split("/").some((p) => p === "" || p === "." || p === "..")) return "the name must not have empty, . or .. parts";
  return undefined;
}

/** An output folder on this machine (the local backend). */
class FolderOutput implements OutputSink {
  constructor(private readonly root: string) {}

  keyOf(rel: string): string {
    return path.join(this.root, ...rel.split("/"));
  }

  async write(rel: string, body: OutputBody): Promise<number> {
    const file = this.keyOf(rel);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const c = counted(body);
    await pipeline(c.stream, fs.createWriteStream(file));
    return c.bytes();
  }

  async move(from: string, to: string, _bytes: number): Promise<void> {
    const dest = this.keyOf(to);
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    await fs.promises.rename(this.keyOf(from), dest);
  }

  async remove(rels: string[]): Promise<void> {
    await Promise.all(rels.map((r) => fs.promises.rm(this.keyOf(r), { force: true })));
  }

  async list(relPrefix: string): Promise<OutputObject[]> {
    const dir = this.keyOf(relPrefix);
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const out: OutputObject[] = [];
    for (const e of entries) {
      if (!e.isFile()) continue;
      const abs = path.join(e.parentPath, e.name);
      out.push({ rel: relPrefix + path.relative(dir, abs).split(path.sep).join("/"), size: (await fs.promises.stat(abs)).size });
    }
    return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  }

  async clear(relPrefix: string): Promise<void> {
    await fs.promises.rm(this.keyOf(relPrefix), { recursive: true, force: true });
  }

  async claim(rel: string, body: string): Promise<boolean> {
    const dest = this.keyOf(rel);
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    // Written whole under a name of its own, then linked: a reader never sees a half-written claim.
    const tmp = `${dest}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    await fs.promises.writeFile(tmp, body);
    try {
      await fs.promises.link(tmp, dest);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  }

  async read(rel: string): Promise<Buffer | undefined> {
    try {
      return await fs.promises.readFile(this.keyOf(rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }
}

/** The sink for a resolved output location; `access`: the caller's AWS profile and region for an S3 one. */
export async function openOutput(location: string, access?: UserS3Access): Promise<OutputSink> {
  if (location.startsWith("s3://")) return new (await import("./s3-output.js")).S3Output(location, access);
  return new FolderOutput(location);
}
