/**
 * fanout: run one TypeScript module over many chunks at once, on a local worker pool or
 * on AWS Lambda, with payloads and results in object storage.
 */
export { defineJob, range, lines, items, objects, files, fromRun, isJob } from "./job/index.js";
export type { Job, JobSpec, JobDefaults, ChunkContext, ReduceInfo, Input, InputSpec, RangeChunk, ChunkOf, ObjectRef, OutputBody } from "./job/index.js";
export { run, map, mapIter } from "./run/run.js";
export { readManifest } from "./run/manifest.js";
export { submit } from "./run/detach.js";
export { attach, type AttachOptions } from "./run/attach.js";
export type { RunOptions, RunResult, MapOptions, MapItem, JobOutput } from "./run/types.js";
export type { AwsOptions, BackendName, CommonOptions, MaxFailures } from "./options.js";
export {
  FanoutError,
  UsageError,
  JobLoadError,
  ConfigError,
  AccessDeniedError,
  RunNotFoundError,
  ChunkFailedError,
  RunAbortedError,
} from "./errors.js";
export type { RemoteError, ErrorKind, InputListing, RunManifest, RunStatus, RunSummary, AttemptRecord, ChunkOutcome, Progress } from "./types.js";
