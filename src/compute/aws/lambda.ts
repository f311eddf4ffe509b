import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { classifyInvokeError, functionError } from "./errors.js";
import type { AwsTarget } from "./target.js";
import { InfraError } from "../../errors.js";
import type { Reply, Task } from "../../types.js";
import type { Backend, InvokeOptions } from "../types.js";

/** Past the chunk's own timeout, how long the client waits for Lambda before giving up. */
const CLIENT_GRACE_MS = 30_000;

/**
 * Chunks on AWS Lambda (payloads and results in the S3 store opened beside it). Each chunk is one synchronous
 * (RequestResponse) invocation: its reply is the completion signal, so nothing polls the
 * bucket; the HTTP agent allows as many sockets as the run's concurrency, since the SDK's
 * default of 50 would silently cap it.
 * @public bench/run.js (case d) drives it through dist/, which knip cannot follow.
 */
export class AwsBackend implements Backend {
  private readonly lambda: LambdaClient;

  constructor(
    readonly name: "aws" | "emulated",
    readonly target: AwsTarget,
    readonly memoryMb: number,
    concurrency: number,
    readonly arch?: "arm64" | "x86_64",
  ) {
    const maxSockets = Math.max(50, concurrency);
    this.lambda = new LambdaClient({
      region: target.region,
      ...(target.lambdaEndpoint ? { endpoint: target.lambdaEndpoint } : {}),
      ...(target.credentials ? { credentials: target.credentials } : {}),
      ...(target.profile ? { profile: target.profile } : {}),
      // Throttles and failures are retried by the executor, with jitter and counted;
      // SDK retries underneath would hide them and multiply the wait.
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
        connectionTimeout: 10_000,
      }),
    });
  }

  async invoke(task: Task, opts: InvokeOptions = {}): Promise<Reply> {
    const ac = new AbortController();
    let why: InfraError | undefined;
    const stop = (e: InfraError) => {
      why ??= e;
      ac.abort(e);
    };
    opts.cancel = () => stop(new InfraError("cancelled", "cancelled"));
    const deadline = setTimeout(
      () => stop(new InfraError("timeout", `no reply from Lambda ${CLIENT_GRACE_MS / 1000} s after chunk ${task.index}'s ${task.timeoutMs / 1000} s timeout (client side)`)),
      task.timeoutMs + CLIENT_GRACE_MS,
    );
    // Lambda starts a chunk on receipt; there is no queue to wait in.
    opts.started?.();
    try {
      const out = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.target.functionName,
          InvocationType: "RequestResponse",
          Payload: Buffer.from(JSON.stringify({ ...task, bucket: this.target.bucket })),
        }),
        { abortSignal: ac.signal },
      );
      const text = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
      if (out.FunctionError) throw functionError(task, text, this.memoryMb);
      const reply = JSON.parse(text) as Reply;
      if (!reply.ok && reply.error?.kind === "transient") {
        throw new InfraError("transient", reply.error.message, { cause: reply.error });
      }
      return reply;
    } catch (err) {
      if (why) throw why;
      if (err instanceof InfraError) throw err;
      throw classifyInvokeError(err, this.target);
    } finally {
      clearTimeout(deadline);
      opts.cancel = undefined;
    }
  }

  async close(): Promise<void> {
    this.lambda.destroy();
  }
}
