/**
 * What an AWS failure means for fanout, as pure functions of the error or payload: a missing
 * or rejected credential (a setup problem), a function error (crash, OOM, platform timeout),
 * or an invoke error (throttle, missing function, payload too large, else transient).
 */
import { ConfigError, InfraError, retryAfterMsOf } from "../../errors.js";
import type { Task } from "../../types.js";

/** The SDK error's name, HTTP status and message, whatever shape the error has. */
export function describeAwsError(err: unknown): { name: string; status?: number; message: string } {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return { name: e?.name ?? "Error", ...(e?.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}), message: e?.message ?? String(err) };
}

/** A ConfigError with its fix when `err` is about missing or rejected credentials, else undefined. */
export function credentialProblem(err: unknown): ConfigError | undefined {
  const { name, message } = describeAwsError(err);
  if (name === "CredentialsProviderError" || /Could not load credentials|credential/i.test(message)) {
    return new ConfigError("no AWS credentials found", "run `aws configure`, or set AWS_PROFILE / --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", err);
  }
  if (name === "UnrecognizedClientException" || name === "InvalidClientTokenId" || name === "ExpiredTokenException" || name === "ExpiredToken") {
    return new ConfigError(`AWS rejected the credentials (${name})`, "refresh them (aws sso login, or new keys) and try again", err);
  }
  return undefined;
}

/** The function itself failed outside our handler's control: a crash, OOM or platform timeout. */
export function functionError(task: Pick<Task, "index">, payload: string, memoryMb: number): InfraError {
  let msg = payload;
  try {
    const p = JSON.parse(payload) as { errorMessage?: string; errorType?: string };
    msg = `${p.errorType ?? "Error"}: ${p.errorMessage ?? payload}`;
  } catch {
    /* not JSON */
  }
  if (/out of memory|OutOfMemory|heap limit|signal: killed/i.test(msg)) {
    return new InfraError("oom", `worker ran out of memory (limit ${memoryMb} MB, set with --memory): ${msg}`);
  }
  if (/timed out|timeout/i.test(msg)) return new InfraError("timeout", `chunk ${task.index}: Lambda timed out: ${msg}`);
  return new InfraError("crash", `chunk ${task.index}: the worker function failed: ${msg}`);
}

/** An Invoke call that failed (no reply from the function): what kind of infrastructure failure it is. */
export function classifyInvokeError(err: unknown, t: { functionName: string; region: string }): InfraError {
  const cred = credentialProblem(err);
  if (cred) return new InfraError("crash", cred.message + " — " + cred.hint, { cause: cred });
  const { name, status, message } = describeAwsError(err);
  if (status === 429 || name === "TooManyRequestsException" || name === "ThrottlingException" || /Rate exceeded|TooManyRequests/i.test(message)) {
    return new InfraError("throttled", `Lambda throttled the invocation (${name}): ${message}`, { retryAfterMs: retryAfterMsOf(err) });
  }
  if (name === "ResourceNotFoundException" || status === 404) {
    return new InfraError("crash", `Lambda function ${t.functionName} not found in ${t.region}: deploy with \`npx fanout deploy\``);
  }
  if (name === "RequestEntityTooLargeException" || status === 413) {
    return new InfraError("serialize", `the invocation payload is too large for Lambda: ${message}`);
  }
  return new InfraError("transient", `${name}: ${message}`, { cause: err });
}
