/**
 * Opening the AWS side: the run's S3 store first (the deployed bucket, or an emulated
 * stack's), then Lambda beside it once the run's options are known.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { emulatedBucket, runningEmulatorFromEnv, startEmulator, startS3rver, stopS3rver } from "./emulator.js";
import { AwsBackend } from "./lambda.js";
import { accountConcurrency, emulatedTarget, pickTier, preflight, resolveAwsTarget, type AwsTarget, type DeployedFunction } from "./target.js";
import { ConfigError, UsageError } from "../../errors.js";
import { makeS3Client, S3Store } from "../../store/s3.js";
import type { ComputeConfig, RunStore, StoreConfig } from "../types.js";

function s3StoreFor(t: AwsTarget, maxSockets = 64): S3Store {
  const client = makeS3Client({
    region: t.region,
    ...(t.s3Endpoint ? { endpoint: t.s3Endpoint } : {}),
    ...(t.credentials ? { credentials: t.credentials } : {}),
    ...(t.profile ? { profile: t.profile } : {}),
    maxSockets,
  });
  return new S3Store(client, t.bucket);
}

/** S3 sockets for a run: as many as its chunks in flight (at least the SDK's 50), at most 512. */
function storeSockets(concurrency: number): number {
  return Math.min(Math.max(50, concurrency), 512);
}

/**
 * A run's store on AWS or an emulated stack, checked before anything is written to it: the
 * deployed function is looked up here too (a missing one fails before any upload).
 * `emulatedDir`: where a stack fanout starts itself keeps its objects (see emulatedStoreDir).
 */
export async function openAwsRunStore(cfg: StoreConfig, concurrency: number, emulatedDir: string): Promise<RunStore> {
  if (cfg.backend === "emulated") {
    const running = await runningEmulatorFromEnv();
    const emu = running ? undefined : await startEmulator({ ...(cfg.aws?.stage ? { stage: cfg.aws.stage } : {}), dir: emulatedDir });
    const target = emulatedTarget(running ?? emu!);
    const account = await accountConcurrency(target);
    return lambdaBeside(target, s3StoreFor(target, storeSockets(concurrency)), "emulated", { ...(account ? { account } : {}) }, async () => emu?.stop());
  }
  const target = await resolveAwsTarget(cfg.aws ?? {});
  const deployed = await preflight(target);
  const account = await accountConcurrency(target);
  return lambdaBeside(target, s3StoreFor(target, storeSockets(concurrency)), "aws", { ...deployed, ...(account ? { account } : {}) });
}

/** What preflight found of the deployed function and the account (its unreserved concurrency). */
type Deployed = DeployedFunction & { account?: number };

/** The store as a RunStore whose compute is the Lambda function of the same target; `stop` ends an emulator fanout started. */
function lambdaBeside(target: AwsTarget, store: S3Store, name: "aws" | "emulated", deployed: Deployed, stop = async () => {}): RunStore {
  return {
    store,
    // Lambda's memory is the deployed function's; reports and cost use that, not the flag.
    // With tiers, the run's --memory picks the function (its tier's memory is that function's).
    openCompute: async (c: ComputeConfig) => {
      checkTimeout(c.timeoutMs, deployed.timeoutMs);
      const tier = pickTier(target, c.tiers ?? (c.memoryAsked ? [c.memoryMb] : undefined));
      const tiers = target.tiers?.filter((x) => !c.tiers || c.tiers.includes(x.memoryMb));
      return new AwsBackend(name, tier ? { ...target, functionName: tier.functionName } : target, tier?.memoryMb ?? deployed.memoryMb ?? c.memoryMb, c.concurrency, {
        ...(tiers ? { tiers } : {}),
        store,
        ...(deployed.timeoutMs ? { functionTimeoutMs: deployed.timeoutMs } : {}),
        ...(deployed.account ? { concurrencyCap: deployed.account } : {}),
        ...(deployed.arch ? { arch: deployed.arch } : {}),
        ...(deployed.tmpMb ? { tmpMb: deployed.tmpMb } : {}),
      });
    },
    close: async () => {
      store.client.destroy();
      await stop();
    },
  };
}

/**
 * A chunk may not outlive the function that runs it: past the deployed timeout Lambda kills it
 * without a word, and a client that lost its connection could not tell when a copy is over.
 */
function checkTimeout(runMs: number | undefined, deployedMs: number | undefined): void {
  if (runMs === undefined || deployedMs === undefined || runMs <= deployedMs) return;
  throw new UsageError(
    `--timeout ${runMs / 1000} is above the deployed function's timeout of ${deployedMs / 1000} s`,
    `pass --timeout ${deployedMs / 1000} or less, or redeploy with \`fanout deploy --timeout ${runMs / 1000}\``,
  );
}

/** The store alone, for status, logs and teardown. */
export async function openAwsStore(cfg: StoreConfig, emulatedDir: string): Promise<{ store: S3Store; close(): Promise<void> }> {
  if (cfg.backend === "emulated") return openEmulatedStore(cfg.aws?.stage, emulatedDir);
  const store = s3StoreFor(await resolveAwsTarget(cfg.aws ?? {}));
  return { store, close: async () => store.client.destroy() };
}

/** The running stack's store, or else the objects a stopped one left in `dir`, served by s3rver alone. */
async function openEmulatedStore(stage: string | undefined, dir: string): Promise<{ store: S3Store; close(): Promise<void> }> {
  const running = await runningEmulatorFromEnv();
  if (running) {
    const store = s3StoreFor(emulatedTarget(running));
    return { store, close: async () => store.client.destroy() };
  }
  const bucket = emulatedBucket(stage);
  if (!fs.existsSync(path.join(dir, bucket))) {
    throw new ConfigError(
      `no emulated stack is running and no emulated store is in ${dir}`,
      "start one with `fanout emulate` and export the FANOUT_EMULATOR line it prints, or run with --backend emulated from the project",
    );
  }
  const s3 = await startS3rver(dir, bucket);
  const store = s3StoreFor({ region: "us-east-1", functionName: "", bucket, s3Endpoint: s3.endpoint, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  return {
    store,
    close: async () => {
      store.client.destroy();
      await stopS3rver(s3);
    },
  };
}
