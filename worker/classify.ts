/**
 * Which kind of failure an error is (RemoteError.kind), which decides what the executor does
 * with it: a transient one is retried, a chunk's own error is the user's.
 */
import { isAbsolute } from "node:path";
import { toRemoteError } from "../src/errors.js";
import { SerializeError } from "../src/serialize.js";
import type { RemoteError } from "../src/types.js";

/** Thrown inside a chunk's abort signal when the worker-side timeout fires. */
export class ChunkTimeoutError extends Error {
  override name = "ChunkTimeoutError";
}

/** The chunk's result is no longer needed (a lost speculative copy, a cancelled run). */
export class ChunkCancelledError extends Error {
  override name = "ChunkCancelledError";
}

/** Marks an error as thrown by the chunk's own code, so a chunk's EACCES is not taken for an outage. */
export class ChunkScopeError extends Error {
  constructor(readonly inner: unknown) {
    super("chunk error");
  }
}

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EACCES",
  "EPERM",
  "EROFS",
  "ENOSPC",
  "EBUSY",
  "EMFILE",
  "ENOTDIR",
  "ENOENT",
  "EIO",
]);

/** Errors that mean the store or network failed, not the chunk: the executor retries these. */
export function isTransient(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (e?.$retryable) return true;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return TRANSIENT_CODES.has(e?.code ?? "") || e?.name === "TimeoutError" || e?.name === "NetworkingError";
}

export function classify(err: unknown): RemoteError {
  if (err instanceof ChunkTimeoutError) return toRemoteError(err, "timeout");
  if (err instanceof SerializeError) return toRemoteError(err, "serialize");
  if (err instanceof ChunkCancelledError) return toRemoteError(err, "cancelled");
  if (err instanceof ChunkScopeError) return withShipHint(toRemoteError(err.inner, "user"), err.inner);
  if (isTransient(err)) return toRemoteError(err, "transient");
  return toRemoteError(err, "user");
}

/**
 * A chunk that opens a relative path the worker does not have: on Lambda the working directory
 * is the read-only function folder, not the job's, so the file was never there. Say how to ship it.
 */
function withShipHint(remote: RemoteError, err: unknown): RemoteError {
  const e = err as { code?: unknown; path?: unknown } | null;
  const file = e?.path;
  if (e?.code !== "ENOENT" || typeof file !== "string" || isAbsolute(file) || file.startsWith("file:")) return remote;
  remote.message += `; a relative path is read from the worker's working directory (${process.cwd()}), not the job's folder: ship it with assets: [...] in defineJob (paths relative to the job file's folder) and open it with ctx.asset(path)`;
  return remote;
}
