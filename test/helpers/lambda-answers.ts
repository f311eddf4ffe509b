/**
 * Lambda's answers, shaped as AWS sends them, for the Lambda proxy (lambda-proxy.ts). Each
 * names its source; "unconfirmed" marks what no primary source pinned down. "RIC" is
 * https://github.com/aws/aws-lambda-nodejs-runtime-interface-client, the Node runtime.
 */
import { randomUUID } from "node:crypto";

/** A chunk's error as fanout's worker replies it (`{ ok: false, error }`). */
export interface ChunkError {
  name: string;
  message: string;
  stack?: string;
}

/** Lambda's synchronous response limit: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const RESPONSE_LIMIT = 6_291_556;
export const ACCOUNT = "123456789012";

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export const json = (status: number, headers: Record<string, string>, body: unknown): Answer => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: Buffer.from(JSON.stringify(body)),
});

/**
 * A function error: HTTP 200, X-Amz-Function-Error: Unhandled, the error as payload, as in a
 * captured Runtime.HandlerNotFound (https://github.com/brain-power/Brain-Power-Amazon-Fidgetology/issues/28).
 */
const functionError = (requestId: string, body: object): Answer =>
  json(200, { "x-amzn-requestid": requestId, "x-amz-function-error": "Unhandled", "x-amz-executed-version": "$LATEST" }, body);

/**
 * 429 as SDK v3 reads it: the error code from x-amzn-ErrorType, retryAfterSeconds from
 * Retry-After, Reason/Type/message from the body. Body shape from a real capture
 * (https://github.com/fyoorer/ShadowClone/issues/46), "Rate Exceeded." from
 * https://github.com/remotion-dev/remotion/issues/2762; the Reason is one of the documented
 * ThrottleReason values (https://docs.aws.amazon.com/botocore/latest/reference/services/lambda/client/exceptions/TooManyRequestsException.html).
 */
export function tooManyRequests(retryAfterSeconds: number | undefined): Answer {
  const headers: Record<string, string> = { "x-amzn-errortype": "TooManyRequestsException", "x-amzn-requestid": randomUUID() };
  if (retryAfterSeconds !== undefined) headers["retry-after"] = String(retryAfterSeconds);
  return json(429, headers, { Reason: "ReservedFunctionConcurrentInvocationLimitExceeded", Type: "User", message: "Rate Exceeded." });
}

/**
 * 403 for an IAM-denied call. AccessDeniedException is not modelled for Invoke, so the SDK
 * throws a LambdaServiceException named from x-amzn-ErrorType (@smithy/core loadRestJsonErrorCode)
 * with message copied from Message. The wording follows IAM's "no identity-based policy allows"
 * message; that Lambda sends exactly this text is unconfirmed (no primary capture found).
 */
export function accessDenied(action: string, resource: string): Answer {
  return json(
    403,
    { "x-amzn-errortype": "AccessDeniedException", "x-amzn-requestid": randomUUID() },
    { Message: `User: arn:aws:iam::${ACCOUNT}:user/x is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action` },
  );
}

/**
 * Init errors, shaped on real captures: ImportModuleError from
 * https://github.com/aws-samples/amazon-eventbridge-producer-consumer-example/issues/5,
 * HandlerNotFound from https://github.com/brain-power/Brain-Power-Amazon-Fidgetology/issues/28
 * (200 + Unhandled); messages as the Node RIC's UserFunction.js builds them.
 */
export function initFailure(type: "Runtime.ImportModuleError" | "Runtime.HandlerNotFound"): Answer {
  const message =
    type === "Runtime.ImportModuleError"
      ? "Error: Cannot find module 'index'\nRequire stack:\n- /var/runtime/index.mjs"
      : "index.handler is undefined or not exported";
  const trace = `${type}: ${message}`.split("\n").concat("    at _loadUserApp (file:///var/runtime/index.mjs:1087:17)");
  return functionError(randomUUID(), { errorType: type, errorMessage: message, trace });
}

/**
 * The Node runtime (RIC) registers uncaughtException/unhandledRejection handlers before it
 * loads the handler; on a stray error it posts {errorType: name, errorMessage, trace} as the
 * invoke's error and exits (129), or wraps a rejection as Runtime.UnhandledPromiseRejection
 * with errorMessage String(reason) and exits (128): RIC src/index.mjs, src/Runtime.js
 * _setErrorCallbacks, src/Errors.js toRapidResponse. The body's shape is AWS's own example in
 * https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html.
 */
export function uncaughtError(requestId: string, e: ChunkError, rejection: boolean): Answer {
  const stack = (e.stack ?? `${e.name}: ${e.message}`).split("\n");
  if (!rejection) return functionError(requestId, { errorType: e.name, errorMessage: e.message, trace: stack });
  const message = `${e.name}: ${e.message}`;
  return functionError(requestId, {
    errorType: "Runtime.UnhandledPromiseRejection",
    errorMessage: message,
    trace: [`Runtime.UnhandledPromiseRejection: ${message}`, "    at process.<anonymous> (file:///var/runtime/index.mjs:1276:17)"],
  });
}

/**
 * The runtime died without replying: Runtime.ExitError, "RequestId: <id> Error: Runtime exited
 * with error: <why>" (https://github.com/aws/aws-lambda-dotnet/issues/480). A V8 heap OOM aborts:
 * "signal: aborted" (SST's log parser, "Nodejs, Python 3.8"; a trailing " (core dumped)", and
 * whether today's Lambda says Runtime.OutOfMemory instead, are unconfirmed).
 */
export function runtimeExited(requestId: string, why: string): Answer {
  return functionError(requestId, { errorType: "Runtime.ExitError", errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${why}` });
}

/** Response too large: still HTTP 200 (https://zaccharles.medium.com/deep-dive-lambdas-response-payload-size-limit-8aedba9530ed, https://github.com/DataBiosphere/azul/issues/7466); the Unhandled header there is unconfirmed but likely. */
export function responseTooLarge(requestId: string, limit: number): Answer {
  return functionError(requestId, { errorType: "Function.ResponseSizeTooLarge", errorMessage: `Response payload size exceeded maximum allowed payload size (${limit} bytes).` });
}

/**
 * GetAccountSettings, https://docs.aws.amazon.com/lambda/latest/dg/API_GetAccountSettings.html;
 * the code-size limits are the default quotas of https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html.
 */
export function accountSettings(concurrency: number): Answer {
  return json(200, { "x-amzn-requestid": randomUUID() }, {
    AccountLimit: { TotalCodeSize: 80_530_636_800, CodeSizeUnzipped: 262_144_000, CodeSizeZipped: 52_428_800, ConcurrentExecutions: concurrency, UnreservedConcurrentExecutions: concurrency },
    AccountUsage: { TotalCodeSize: 0, FunctionCount: 1 },
  });
}
