/** The emulated S3: s3rver on loopback, serving a data folder that outlasts the server. */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { binOf, QUIET_ENV, startServer, stopChild } from "./servers.js";

/** Makes s3rver replace objects whole, as S3 does (see the file). */
const ATOMIC_WRITES = fileURLToPath(new URL("../../../../s3rver-atomic.cjs", import.meta.url));

/** A running s3rver: the emulated S3. */
export interface EmulatedS3 {
  child: ChildProcess;
  port: number;
  endpoint: string;
}

/** Start s3rver on loopback over `dir` (its objects live there, so they outlast the server). */
export async function startS3rver(dir: string, bucket: string, opts: { port?: number; timeoutMs?: number } = {}): Promise<EmulatedS3> {
  fs.mkdirSync(dir, { recursive: true });
  // s3rver's continuation tokens use DES, which Node 20's OpenSSL only has as a legacy cipher.
  const { child, match } = await startServer(
    "s3rver",
    process.execPath,
    ["--openssl-legacy-provider", "--require", ATOMIC_WRITES, binOf("s3rver", "s3rver"), "-d", dir, "-a", "127.0.0.1", "-p", String(opts.port ?? 0), "--silent", "--configure-bucket", bucket],
    { cwd: dir, env: { ...process.env, ...QUIET_ENV }, ready: /S3rver listening on [\d.]+:(\d+)/, timeoutMs: opts.timeoutMs ?? 60_000 },
  );
  const port = Number(match[1]);
  return { child, port, endpoint: `http://127.0.0.1:${port}` };
}

export function stopS3rver(s3: EmulatedS3): Promise<void> {
  return stopChild(s3.child);
}

/** The emulated stack's bucket for a stage. */
export function emulatedBucket(stage = "dev"): string {
  return `fanout-runs-${stage}`;
}

/**
 * The folder s3rver keeps its objects in: `dir` if given (kept after stop), else a new temp
 * folder that remove() deletes.
 */
export function s3DataDir(dir: string | undefined): { dir: string; remove(): void } {
  if (dir !== undefined) return { dir, remove() {} };
  const own = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-s3-"));
  return { dir: own, remove: () => fs.rmSync(own, { recursive: true, force: true }) };
}
