/**
 * The Lambda entry point: the same handler as the local workers, with S3 as the store.
 *
 * The client invokes this function synchronously (RequestResponse) on purpose: the reply is
 * the completion signal, so no one polls S3 for results, and a connection pool sized to the
 * run's concurrency keeps every invocation in flight at once. S3 stays the source of truth:
 * the result envelope is written there before the reply, so a lost reply loses nothing.
 */
import * as os from "node:os";
import * as path from "node:path";
import { makeS3Client, S3Store } from "../src/store/s3.js";
import type { Reply, Task } from "../src/types.js";
import { runTask } from "./handler.js";
import type { WorkerEnv } from "./env.js";
import { guardProcess } from "./guard.js";
import { captureConsole } from "./scope.js";

// Remote stacks should name the user's TypeScript lines (job bundles carry inline source maps).
process.setSourceMapsEnabled(true);
captureConsole(true);
guardProcess((err) => console.error("fanout worker: uncaught error outside any chunk:", err));

/** The endpoint variable routes S3 to an emulator (serverless-offline passes AWS_* through). */
const endpoint = process.env.AWS_ENDPOINT_URL_S3 || undefined;
const client = makeS3Client({
  ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
  ...(endpoint ? { endpoint } : {}),
});
const stores = new Map<string, S3Store>();

function storeFor(bucket: string): S3Store {
  let s = stores.get(bucket);
  if (!s) stores.set(bucket, (s = new S3Store(client, bucket)));
  return s;
}

interface LambdaContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
  memoryLimitInMB?: string;
}

export async function handler(event: Task, context: LambdaContext = {}): Promise<Reply> {
  const bucket = event.bucket ?? process.env.FANOUT_BUCKET;
  if (!bucket) throw new Error("fanout worker: no bucket in the task and FANOUT_BUCKET is not set");
  // Stop the chunk ourselves before Lambda's hard timeout, so it ends as a timeout error
  // with its logs instead of a killed container.
  const remaining = context.getRemainingTimeInMillis?.();
  const task = remaining && remaining - 1000 < event.timeoutMs ? { ...event, timeoutMs: Math.max(1000, remaining - 1000) } : event;
  const memoryMb = Number(context.memoryLimitInMB ?? process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || undefined;
  const env: WorkerEnv = {
    store: storeFor(bucket),
    platform: "lambda",
    workerId: `${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? `pid-${process.pid}`}`,
    ...(memoryMb ? { memoryMb } : {}),
    cacheDir: path.join(os.tmpdir(), "fanout-bundles"),
  };
  return runTask(task, env);
}
