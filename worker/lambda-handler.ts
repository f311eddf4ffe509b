/**
 * The Lambda handler: the same runTask as the local workers, with S3 as the store. Nothing
 * happens at import; worker/lambda.ts, the entry, gives it S3 and exports it.
 *
 * The client invokes this function synchronously (RequestResponse) on purpose: the reply is
 * the completion signal, so no one polls S3 for results, and a connection pool sized to the
 * run's concurrency keeps every invocation in flight at once. S3 stays the source of truth:
 * the result envelope is written there before the reply, so a lost reply loses nothing.
 */
import type { ObjectStore } from "../src/store/types.js";
import type { DriverEvent, Reply, Task } from "../src/types.js";
import type { WorkerEnv } from "./env.js";
import { runTask } from "./handler.js";
import type { SecretReader } from "./secrets.js";
import { defaultBundleCacheDir } from "../src/util/bundle-cache.js";

export interface LambdaContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
  memoryLimitInMB?: string;
}

/**
 * The task with its deadline ending a second before Lambda's hard timeout, so the chunk ends
 * as a timeout error with its logs instead of a killed container.
 */
export function withinLambdaDeadline(task: Task, remainingMs: number | undefined): Task {
  return remainingMs && remainingMs - 1000 < task.timeoutMs ? { ...task, timeoutMs: Math.max(1000, remainingMs - 1000) } : task;
}

/** The reply with what Lambda bills: the whole handler, and INIT on the environment's first call. */
function billed(reply: Reply, t0: number, initMs: number): Reply {
  reply.timing.handlerMs = Math.ceil(performance.now() - t0);
  if (initMs > 0) reply.timing.initMs = Math.ceil(initMs);
  return reply;
}

/** Replies being stored: an exit the runtime makes after a stray error waits for them (holdExit). */
const storing = new Set<Promise<unknown>>();

/**
 * Wrap `exit` so that, outside any chunk, it waits (at most `maxWaitMs`) for the replies being
 * stored: the Node runtime reports a stray error and exits at once, and the chunk's failure
 * envelope must reach S3 first, where the client reads it (research-aws.md §2).
 */
export function holdExit(exit: (code?: number) => never, inChunk: () => boolean, maxWaitMs = 3000): (code?: number) => never {
  return ((code?: number) => {
    if (storing.size === 0 || inChunk()) return exit(code);
    const timer = new Promise((r) => setTimeout(r, maxWaitMs));
    void Promise.race([Promise.allSettled([...storing]), timer]).then(() => exit(code));
    return undefined as never;
  }) as (code?: number) => never;
}

function isDriverEvent(event: Task | DriverEvent): event is DriverEvent {
  return typeof (event as Partial<DriverEvent>).driver === "object";
}

/**
 * `storeOf` makes the store of a bucket (S3 on Lambda); one is kept per bucket for the
 * container's life. `readSecret` reads a run's secrets with the function's role.
 */
export function createLambdaHandler(storeOf: (bucket: string) => ObjectStore, readSecret?: SecretReader): (event: Task | DriverEvent, context?: LambdaContext) => Promise<Reply> {
  const stores = new Map<string, ObjectStore>();
  const storeFor = (bucket: string): ObjectStore => {
    let s = stores.get(bucket);
    if (!s) stores.set(bucket, (s = storeOf(bucket)));
    return s;
  };
  // The INIT phase ends where the first invocation begins: process start to here.
  let initMs: number | undefined;
  return async (event, context = {}) => {
    const t0 = performance.now();
    initMs = initMs === undefined ? t0 : 0;
    // A detached run's driver (an Event invocation): loaded only now, so chunks never load it.
    if (isDriverEvent(event)) return (await import("./driver.js")).driveFromEvent(event, context, storeFor(event.driver.bucket)) as unknown as Reply;
    const bucket = event.bucket ?? process.env.FANOUT_BUCKET;
    if (!bucket) throw new Error("fanout worker: no bucket in the task and FANOUT_BUCKET is not set");
    const remainingMs = context.getRemainingTimeInMillis?.();
    const task = withinLambdaDeadline(event, remainingMs);
    const memoryMb = Number(context.memoryLimitInMB ?? process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || undefined;
    const env: WorkerEnv = {
      store: storeFor(bucket),
      platform: "lambda",
      workerId: `${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? `pid-${process.pid}`}`,
      ...(memoryMb ? { memoryMb } : {}),
      cacheDir: defaultBundleCacheDir(),
      ...(readSecret ? { readSecret } : {}),
      ...(remainingMs ? { replyBy: Date.now() + remainingMs - 1000 } : {}),
    };
    const reply = runTask(task, env);
    if (reply instanceof Promise) {
      storing.add(reply);
      void reply.finally(() => storing.delete(reply));
    }
    return billed(await reply, t0, initMs);
  };
}
