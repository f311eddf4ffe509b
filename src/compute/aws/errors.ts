/**
 * What an AWS failure means for fanout, as pure functions of the error or payload: a missing
 * or rejected credential (a setup problem), a function error (crash, OOM, platform timeout),
 * or an invoke error (throttle, missing function, payload too large, else transient).
 */
import { AccessDeniedError, ConfigError, InfraError, retryAfterMsOf } from "../../errors.js";
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

/**
 * What a FunctionError payload means, by Lambda's documented errorType (research-aws.md §1, §2):
 * - "timeout": Sandbox.Timedout, or the older "Task timed out after N seconds" text;
 * - "oom": Runtime.OutOfMemory, or Runtime.ExitError from a V8 heap abort ("signal: aborted")
 *   or the sandbox's memory kill ("signal: killed");
 * - "init": the function cannot start (module, handler or syntax): every chunk fails alike;
 * - "too-large": Function.ResponseSizeTooLarge, the reply passed 6,291,556 bytes;
 * - "stray": the Node runtime's own uncaughtException/unhandledRejection handler answered for
 *   an error from the chunk's callback (errorType is the error's name, or
 *   Runtime.UnhandledPromiseRejection) and exits: the worker stored the chunk's failure;
 * - "crash": anything else (the runtime exited, an error the worker did not catch).
 */
export type FunctionErrorClass = "timeout" | "oom" | "init" | "too-large" | "stray" | "crash";

const INIT_ERRORS = new Set(["Runtime.ImportModuleError", "Runtime.HandlerNotFound", "Runtime.UserCodeSyntaxError", "Runtime.MalformedHandlerName"]);

/** The payload's errorType (when it names one) and message (the raw text when it is not Lambda's JSON). */
function parseFunctionError(payload: string): { errorType?: string; errorMessage: string } {
  try {
    const p = JSON.parse(payload) as { errorMessage?: unknown; errorType?: unknown };
    return { ...(typeof p.errorType === "string" ? { errorType: p.errorType } : {}), errorMessage: typeof p.errorMessage === "string" ? p.errorMessage : payload };
  } catch {
    return { errorMessage: payload };
  }
}

/** Classifies a FunctionError payload (see FunctionErrorClass). Pure. */
export function classifyFunctionError(payload: string): FunctionErrorClass {
  const { errorType, errorMessage } = parseFunctionError(payload);
  if (errorType === "Sandbox.Timedout" || /Task timed out after [\d.]+ seconds/.test(errorMessage)) return "timeout";
  if (errorType === "Runtime.OutOfMemory") return "oom";
  if (errorType === "Runtime.ExitError") return /signal: (aborted|killed)/.test(errorMessage) ? "oom" : "crash";
  if (/JavaScript heap out of memory|Reached heap limit/.test(errorMessage)) return "oom";
  if (errorType && INIT_ERRORS.has(errorType)) return "init";
  if (errorType === "Function.ResponseSizeTooLarge") return "too-large";
  if (errorType === "Runtime.UnhandledPromiseRejection" || (errorType && !/^(Runtime|Sandbox|Function)\./.test(errorType))) return "stray";
  return "crash";
}

/**
 * The InfraError for a function error the store cannot answer for: a crash, OOM, platform
 * timeout, or a function that cannot start (which stops the run: see InfraError.fatal).
 */
export function functionError(task: Pick<Task, "index">, payload: string, memoryMb: number): InfraError {
  const { errorType, errorMessage } = parseFunctionError(payload);
  const msg = `${errorType ?? "Error"}: ${errorMessage}`.replace(/\s*\n[\s\S]*$/, "");
  switch (classifyFunctionError(payload)) {
    case "oom":
      return new InfraError("oom", `worker ran out of memory (limit ${memoryMb} MB, set with \`fanout deploy --memory\`): ${msg}`);
    case "timeout":
      return new InfraError("timeout", `chunk ${task.index}: Lambda timed out: ${msg}`);
    case "init": {
      const fatal = new ConfigError(`the deployed worker function cannot start (${msg})`, "redeploy it with `npx fanout deploy` (same --stage and --region)");
      return new InfraError("crash", fatal.message, { fatal });
    }
    default:
      return new InfraError("crash", `chunk ${task.index}: the worker function failed: ${msg}`);
  }
}

/**
 * A socket error after the request was on its way (reset, broken pipe, "socket hang up"):
 * Lambda may have accepted the invocation and runs it on, so it is not a failure to retry
 * blindly (see AwsBackend.afterConnectionLoss). ECONNREFUSED is not one: nothing was sent.
 */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e) return false;
  if (e.code === "ECONNRESET" || e.code === "EPIPE") return true;
  if (typeof e.message === "string" && /socket hang up|ECONNRESET|EPIPE/.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isConnectionLoss(e.cause);
}

/** The action and resource a 403's message names ("not authorized to perform: A on resource: R"), if it does. */
function deniedGrant(message: string): { action?: string; resource?: string } {
  const m = /perform: (\S+) on resource: (\S+)/.exec(message);
  return m ? { action: m[1]!, resource: m[2]! } : {};
}

/** An Invoke call that failed (no reply from the function): what kind of infrastructure failure it is. */
export function classifyInvokeError(err: unknown, t: { functionName: string; region: string }): InfraError {
  const cred = credentialProblem(err);
  if (cred) return new InfraError("crash", cred.message + " — " + cred.hint, { cause: cred });
  const { name, status, message } = describeAwsError(err);
  if (status === 403 || name === "AccessDeniedException" || name === "AccessDenied") {
    // Every chunk would be refused alike: stop the run, naming the grant to add.
    const grant = deniedGrant(message);
    const fatal = new AccessDeniedError(grant.action ?? "lambda:InvokeFunction", grant.resource ?? `function ${t.functionName} (${t.region})`, err);
    return new InfraError("crash", fatal.message, { fatal });
  }
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
