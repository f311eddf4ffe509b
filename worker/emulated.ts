/**
 * The handler the emulated stack loads instead of dist/lambda/index.handler: the same bundle,
 * run in what a Lambda would give it. serverless-offline runs handlers inside its own process,
 * with that process's environment (plus every AWS_* variable of the caller and IS_OFFLINE) and
 * the fanout package as working directory, so a job reading `process.env.X` or a relative
 * file would pass here and fail on AWS. Before each invocation this wrapper keeps only the
 * variables Lambda defines and those fanout sets, and moves to an empty, read-only folder
 * standing in for /var/task.
 *
 * The variables, reserved and unreserved, are AWS's list in "Defined runtime environment
 * variables": https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 */
import { isMainThread } from "node:worker_threads";

const LAMBDA_DEFINED = new Set([
  "_HANDLER",
  "_X_AMZN_TRACE_ID",
  "AWS_DEFAULT_REGION",
  "AWS_REGION",
  "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_FUNCTION_NAME",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_LAMBDA_FUNCTION_VERSION",
  "AWS_LAMBDA_INITIALIZATION_TYPE",
  "AWS_LAMBDA_LOG_GROUP_NAME",
  "AWS_LAMBDA_LOG_STREAM_NAME",
  "AWS_ACCESS_KEY",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_LAMBDA_RUNTIME_API",
  "LAMBDA_TASK_ROOT",
  "LAMBDA_RUNTIME_DIR",
  "TZ",
  "LANG",
  "PATH",
  "LD_LIBRARY_PATH",
  "NODE_PATH",
  "AWS_XRAY_CONTEXT_MISSING",
  "AWS_XRAY_DAEMON_ADDRESS",
  "_AWS_XRAY_DAEMON_ADDRESS",
  "_AWS_XRAY_DAEMON_PORT",
]);

/**
 * Set by fanout itself: serverless.yml's provider.environment, and the emulator's routes to S3,
 * to Lambda (a detached run's driver invokes this function through the SDK's chain) and to the
 * SSM / Secrets Manager servers it was started with (on AWS these are unset).
 */
const FANOUT_SET = new Set(["NODE_OPTIONS", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_SECRETS_MANAGER"]);

/** Values Lambda gives that serverless-offline leaves out or sets from the host. */
const LAMBDA_VALUES: Record<string, string> = {
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
  AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
  PATH: "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
  TZ: ":UTC",
};

// Read before the first scrub removes it: the emulator's stand-in for /var/task.
const taskRoot = process.env.FANOUT_EMULATED_TASK_ROOT;
const { handler: lambdaHandler } = (await import(new URL("../lambda/index.mjs", import.meta.url).href)) as {
  handler: (event: unknown, context: unknown) => Promise<unknown>;
};

function asLambda(): void {
  for (const k of Object.keys(process.env)) {
    if (!LAMBDA_DEFINED.has(k) && !FANOUT_SET.has(k)) delete process.env[k];
  }
  Object.assign(process.env, LAMBDA_VALUES);
  // Node forbids chdir in worker threads (isolation "threads"): there the folder stays the
  // package's; the default in-process isolation gets the empty one.
  if (taskRoot && isMainThread) process.chdir(taskRoot);
}

export async function handler(event: unknown, context: unknown): Promise<unknown> {
  asLambda();
  return lambdaHandler(event, context);
}
