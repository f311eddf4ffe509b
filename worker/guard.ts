import { chunkScope } from "./scope.js";

/**
 * Keep one chunk's misbehaviour inside that chunk, wherever chunks share a process (the local
 * pool; Lambda containers and emulator threads reused across invocations): process.exit in a
 * chunk becomes that chunk's error, and an error thrown from a stray callback fails the chunk
 * whose async context made it. Returns the real exit for the host's own use.
 */
export function guardProcess(outsideChunk: (err: unknown, exit: (code?: number) => never) => void): (code?: number) => never {
  const realExit = process.exit.bind(process) as (code?: number) => never;
  process.exit = ((code?: number) => {
    if (chunkScope.getStore()) throw new Error(`map called process.exit(${code ?? ""}); return or throw instead`);
    return realExit(code);
  }) as typeof process.exit;
  const onStray = (err: unknown) => {
    const scope = chunkScope.getStore();
    if (scope?.fail) return scope.fail(err);
    outsideChunk(err, realExit);
  };
  // First in line: on Lambda the runtime's own handlers (registered before ours) report the
  // error and exit; the chunk must be failed, and its failure on its way to the store, first.
  process.prependListener("uncaughtException", onStray);
  process.prependListener("unhandledRejection", onStray);
  return realExit;
}
