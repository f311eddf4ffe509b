// How an error reaches the user: one line on stderr, the `error` object of `--json`, and the
// exit code. A leaf beside common.ts, so `fanout run` (its JSON) and main.ts (the line and the
// exit code) share it without importing each other.
import { ChunkFailedError, FanoutError, RunAbortedError } from "../src/errors.js";
import { userFrame } from "./render.js";

/** One line per error: what went wrong, then what to do about it. Stacks only with --verbose. */
export function formatError(err: unknown, verbose: boolean): string {
  if (err instanceof ChunkFailedError) {
    // Only the chunk's own errors point into the user's code; others are about the platform.
    const where = err.remote.kind === "user" ? userFrame(err.remote) : undefined;
    const more = err.failedChunks > 1 ? ` (${err.failedChunks} chunks failed; this is the first)` : "";
    let line = `fanout: ${err.message}${where ? ` at ${where}` : ""}${more}${err.hint ? ` — ${err.hint}` : ""}`;
    if (verbose && err.remote.stack) line += `\nremote stack of chunk ${err.index}:\n${err.remote.stack}`;
    return line;
  }
  if (err instanceof FanoutError) {
    let line = `fanout: ${err.message}${err.hint ? ` — ${err.hint}` : ""}`;
    if (verbose) line += `\n${err.stack ?? ""}${err.cause instanceof Error ? `\ncaused by: ${err.cause.stack}` : ""}`;
    return line;
  }
  const e = err as Error;
  return verbose ? `fanout: ${e?.stack ?? String(err)}` : `fanout: unexpected error: ${e?.message ?? String(err)} — rerun with --verbose for the stack, and report it`;
}

/** Every typed error carries its exit code (a cancelled run's RunAbortedError: 130); anything else is a bug: 1. */
export function exitCodeOf(err: unknown): number {
  return err instanceof FanoutError ? err.exitCode : 1;
}

/** The `error` of `--json` output: the same facts as the one-line message, as fields. */
export function errorJson(err: unknown): Record<string, unknown> {
  if (!(err instanceof FanoutError)) return { code: "E_UNEXPECTED", message: (err as Error)?.message ?? String(err), exitCode: exitCodeOf(err) };
  return {
    code: err.code,
    message: err.message,
    ...(err.hint ? { hint: err.hint } : {}),
    exitCode: err.exitCode,
    ...(err instanceof ChunkFailedError ? { runId: err.runId, index: err.index, kind: err.remote.kind, failedChunks: err.failedChunks } : {}),
    ...(err instanceof RunAbortedError ? { runId: err.runId } : {}),
  };
}
