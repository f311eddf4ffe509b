import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { classifyFunctionError, classifyInvokeError, functionError, isConnectionLoss } from "./errors.js";
import { LiveProgress } from "./live-progress.js";
import { awaitStoredOutcome } from "./stored-outcome.js";
import type { AwsTarget, MemoryTier } from "./target.js";
import { InfraError } from "../../errors.js";
import type { ObjectStore } from "../../store/types.js";
import type { DriverEvent, Reply, Task } from "../../types.js";
import type { Backend, InvokeOptions } from "../types.js";

/** Past the chunk's own timeout, how long the client waits for Lambda before giving up. */
const CLIENT_GRACE_MS = 30_000;
/** How long a stored outcome the reply points to (too large, stray error) may take to appear. */
const STORED_WAIT_MS = 10_000;

/** What the backend reads besides Lambda: the run's store, and the deployed function's timeout. */
export interface AwsBackendExtras {
  /** The store the worker writes results to (without one, a lost reply is a transient failure). */
  store?: ObjectStore;
  /** The deployed function's timeout in ms (preflight), after which an invocation is surely over. */
  functionTimeoutMs?: number;
  /** The account's unreserved concurrency (GetAccountSettings). */
  concurrencyCap?: number;
  /** The deployed architecture (preflight), for cost. */
  arch?: "arm64" | "x86_64";
  /** The deployed memory tiers an invoke may ask for (InvokeOptions.memoryMb), ascending. */
  tiers?: readonly MemoryTier[];
  /** The deployed function's ephemeral storage in MB (preflight). */
  tmpMb?: number;
}

/**
 * /tmp of a function that says nothing else: "512 MB by default, up to 10,240 MB" ("Configuring
 * ephemeral storage for Lambda functions", https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html).
 */
const DEFAULT_TMP_MB = 512;

/**
 * Chunks on AWS Lambda (payloads and results in the S3 store opened beside it). Each chunk is one synchronous
 * (RequestResponse) invocation: its reply is the completion signal, so nothing polls the
 * bucket; the HTTP agent allows as many sockets as the run's concurrency, since the SDK's
 * default of 50 would silently cap it.
 * @public bench/run.js (case d) drives it through dist/, which knip cannot follow.
 */
export class AwsBackend implements Backend {
  private readonly lambda: LambdaClient;
  /** Running chunks' ctx.progress, read back from their live parts in the store. */
  private readonly live: LiveProgress | undefined;
  readonly concurrencyCap: number | undefined;
  readonly arch?: "arm64" | "x86_64";
  readonly tiers?: readonly number[];
  readonly tmpMb: number;

  constructor(
    readonly name: "aws" | "emulated",
    readonly target: AwsTarget,
    readonly memoryMb: number,
    concurrency: number,
    private readonly extras: AwsBackendExtras = {},
  ) {
    this.concurrencyCap = extras.concurrencyCap;
    this.live = extras.store ? new LiveProgress(extras.store) : undefined;
    if (extras.arch) this.arch = extras.arch;
    if (extras.tiers) this.tiers = extras.tiers.map((t) => t.memoryMb);
    this.tmpMb = extras.tmpMb ?? DEFAULT_TMP_MB;
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
    const invokedAt = Date.now();
    let deadline = setTimeout(
      () => stop(new InfraError("timeout", `no reply from Lambda ${CLIENT_GRACE_MS / 1000} s after chunk ${task.index}'s ${task.timeoutMs / 1000} s timeout (client side)`)),
      task.timeoutMs + CLIENT_GRACE_MS,
    );
    // Lambda starts a chunk on receipt; there is no queue to wait in.
    opts.started?.();
    const tier = opts.memoryMb === undefined ? undefined : this.extras.tiers?.find((t) => t.memoryMb === opts.memoryMb);
    const unwatch = opts.progress && this.live?.watch(task, opts.progress);
    try {
      const out = await this.lambda.send(
        new InvokeCommand({
          FunctionName: tier?.functionName ?? this.target.functionName,
          InvocationType: "RequestResponse",
          Payload: Buffer.from(JSON.stringify({ ...task, bucket: this.target.bucket })),
        }),
        { abortSignal: ac.signal },
      );
      const text = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
      const reply = out.FunctionError ? await this.fromFunctionError(task, text, ac.signal, tier?.memoryMb) : (JSON.parse(text) as Reply);
      if (!reply.ok && reply.error?.kind === "transient") {
        throw new InfraError("transient", reply.error.message, { cause: reply.error });
      }
      return reply;
    } catch (err) {
      if (why) throw why;
      if (err instanceof InfraError) throw err;
      if (!isConnectionLoss(err) || !this.extras.store) throw classifyInvokeError(err, this.target);
      // The poll has its own bound: when the first copy is surely over.
      clearTimeout(deadline);
      const until = invokedAt + (this.extras.functionTimeoutMs ?? task.timeoutMs + CLIENT_GRACE_MS);
      deadline = setTimeout(() => stop(new InfraError("timeout", `lost the connection to Lambda during chunk ${task.index}, and no outcome reached S3 before its timeout`)), until - Date.now() + 1000);
      const found = await awaitStoredOutcome(this.extras.store, task, until, ac.signal);
      if (why) throw why;
      if (found) return found;
      // The first copy is over without a result: only now may another run.
      throw new InfraError("transient", `lost the connection to Lambda during chunk ${task.index}, and its invocation ended without a result in S3`, { cause: err });
    } finally {
      clearTimeout(deadline);
      unwatch?.();
      opts.cancel = undefined;
    }
  }

  /**
   * A FunctionError reply. Where the worker stored the outcome before Lambda answered for it
   * (a reply over 6 MB, a stray error the runtime reported and exited on), that outcome is
   * the attempt's, as it would be locally; else the error is the platform's (crash, OOM, ...).
   */
  private async fromFunctionError(task: Task, payload: string, signal: AbortSignal, memoryMb = this.memoryMb): Promise<Reply> {
    const cls = classifyFunctionError(payload);
    if ((cls === "too-large" || cls === "stray") && this.extras.store) {
      const found = await awaitStoredOutcome(this.extras.store, task, Date.now() + STORED_WAIT_MS, signal);
      if (found) return found;
    }
    throw functionError(task, payload, memoryMb);
  }

  /**
   * Hand a detached run to a driver: the function invoked with InvocationType Event, which
   * Lambda queues and answers 202 at once (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html;
   * the event may be up to 1 MB, research-aws.md §7; this one is under 1 KB).
   */
  async startDriver(driver: Omit<DriverEvent["driver"], "bucket">): Promise<void> {
    // The driver cannot look the tiers up (no CloudFormation grant): they travel in the event.
    const event: DriverEvent = { driver: { ...driver, bucket: this.target.bucket, ...(this.extras.tiers ? { tiers: [...this.extras.tiers] } : {}) } };
    try {
      const out = await this.lambda.send(
        new InvokeCommand({ FunctionName: this.target.functionName, InvocationType: "Event", Payload: Buffer.from(JSON.stringify(event)) }),
      );
      if (out.StatusCode !== 202) throw new InfraError("transient", `Lambda answered ${out.StatusCode} to the driver's Event invocation (expected 202)`);
    } catch (err) {
      if (err instanceof InfraError) throw err;
      throw classifyInvokeError(err, this.target);
    }
  }

  async close(): Promise<void> {
    this.lambda.destroy();
  }
}
