/**
 * The remote driver's entry, loaded by the Lambda handler only for a driver event (a chunk
 * never loads it, nor the executor and Lambda client behind it): the run's S3 store is the
 * handler's, chunks are invoked through the same AwsBackend as the client's, on this very
 * function (AWS_LAMBDA_FUNCTION_NAME), with the Lambda endpoint from the SDK's own chain
 * (AWS_ENDPOINT_URL_LAMBDA on the emulated stack).
 */
import { AwsBackend } from "../src/compute/aws/lambda.js";
import { driveRemote, type DriverEnd } from "../src/run/remote-driver.js";
import type { ObjectStore } from "../src/store/types.js";
import type { DriverEvent } from "../src/types.js";

/** Lambda's own variables name the function and region it runs in. */
function ownTarget(bucket: string): { region: string; functionName: string; bucket: string } {
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!functionName || !region) throw new Error("fanout driver: AWS_LAMBDA_FUNCTION_NAME and AWS_REGION are not set (not on Lambda?)");
  return { region, functionName, bucket };
}

/** Drive the run the event names; the answer (nobody reads an Event's) says how it ended, for the logs. */
export async function driveFromEvent(event: DriverEvent, context: { getRemainingTimeInMillis?: () => number }, store: ObjectStore): Promise<{ driver: DriverEnd }> {
  const target = ownTarget(event.driver.bucket);
  const backends: AwsBackend[] = [];
  const open = (name: "aws" | "emulated", memoryMb: number, concurrency: number) => {
    const b = new AwsBackend(name, target, memoryMb, concurrency, { store, ...(event.driver.tiers ? { tiers: event.driver.tiers } : {}) });
    backends.push(b);
    return b;
  };
  try {
    const end = await driveRemote(event.driver, {
      store,
      openBackend: open,
      invokeNext: (next) => open("aws", 0, 1).startDriver(next.driver),
      remainingMs: () => context.getRemainingTimeInMillis?.() ?? 900_000,
      log: (line) => console.error(line),
    });
    return { driver: end };
  } finally {
    await Promise.all(backends.map((b) => b.close()));
  }
}
