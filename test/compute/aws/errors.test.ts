// How fanout reads AWS failures, as pure functions: a missing or rejected credential, a
// function error (the Invoke reply's FunctionError payload, classed by Lambda's documented
// errorType: research-aws.md §1, §2), an Invoke call that failed.
import { describe, expect, it } from "vitest";
import { ConfigError, InfraError } from "../../../dist/src/errors.js";
import { AccessDeniedError } from "../../../dist/src/errors.js";
import { classifyFunctionError, classifyInvokeError, credentialProblem, describeAwsError, functionError, isConnectionLoss } from "../../../dist/src/compute/aws/errors.js";

/** An error shaped like the SDK's service exceptions: a name, a message, an HTTP status. */
function sdkError(name: string, message: string, status?: number): Error {
  const e = new Error(message);
  e.name = name;
  if (status !== undefined) Object.assign(e, { $metadata: { httpStatusCode: status } });
  return e;
}

const target = { functionName: "fanout-dev-worker", region: "eu-west-1" };

describe("describeAwsError", () => {
  it("reads name, status and message; anything else becomes a string", () => {
    expect(describeAwsError(sdkError("ThrottlingException", "Rate exceeded", 429))).toEqual({ name: "ThrottlingException", status: 429, message: "Rate exceeded" });
    expect(describeAwsError(sdkError("Oops", "no status"))).toEqual({ name: "Oops", message: "no status" });
    expect(describeAwsError("plain")).toEqual({ name: "Error", message: "plain" });
    expect(describeAwsError(undefined)).toEqual({ name: "Error", message: "undefined" });
  });
});

describe("credentialProblem", () => {
  it("no credentials: a ConfigError that says how to set them", () => {
    for (const err of [sdkError("CredentialsProviderError", "Could not load credentials from any providers"), sdkError("Error", "Missing credential in config")]) {
      const c = credentialProblem(err)!;
      expect(c).toBeInstanceOf(ConfigError);
      expect([c.message, c.hint, c.exitCode]).toEqual([
        "no AWS credentials found",
        "run `aws configure`, or set AWS_PROFILE / --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        3,
      ]);
    }
  });

  it("rejected credentials: named, with how to refresh them", () => {
    for (const name of ["UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken"]) {
      const c = credentialProblem(sdkError(name, "The security token included in the request is invalid"))!;
      expect([c.message, c.hint]).toEqual([`AWS rejected the credentials (${name})`, "refresh them (aws sso login, or new keys) and try again"]);
    }
  });

  it("anything else is not a credential problem", () => {
    expect(credentialProblem(sdkError("ResourceNotFoundException", "Function not found", 404))).toBeUndefined();
    expect(credentialProblem(new Error("socket hang up"))).toBeUndefined();
  });
});

describe("classifyFunctionError (the exact table)", () => {
  const payload = (errorType: string, errorMessage: string) => JSON.stringify({ errorType, errorMessage });
  const table: [string, string][] = [
    [payload("Sandbox.Timedout", "RequestId: f8 Error: Task timed out after 3.00 seconds"), "timeout"],
    [JSON.stringify({ errorMessage: "2020-11-10T05:46:57.874Z 160788cd Task timed out after 3.07 seconds" }), "timeout"],
    [payload("Runtime.ExitError", "RequestId: d8 Error: Runtime exited with error: signal: aborted"), "oom"],
    [payload("Runtime.ExitError", "RequestId: d8 Error: Runtime exited with error: signal: aborted (core dumped)"), "oom"],
    [payload("Runtime.ExitError", "RequestId: d8 Error: Runtime exited with error: signal: killed"), "oom"],
    [payload("Runtime.OutOfMemory", "Runtime exited with error: signal: killed"), "oom"],
    [payload("Runtime.ExitError", "RequestId: d8 Error: Runtime exited with error: exit status 137"), "crash"],
    [payload("Runtime.ExitError", "RequestId: d8 Error: Runtime exited with error: signal: segmentation fault"), "crash"],
    [payload("Runtime.ImportModuleError", "Error: Cannot find module 'index'"), "init"],
    [payload("Runtime.HandlerNotFound", "index.handler is undefined or not exported"), "init"],
    [payload("Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token"), "init"],
    [payload("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size (6291556 bytes)."), "too-large"],
    [payload("TypeError", "stray boom"), "stray"],
    [payload("Error", "connect timeout to the user's database"), "stray"],
    [payload("Runtime.UnhandledPromiseRejection", "Error: boom"), "stray"],
    [payload("Runtime.NodeJsExit", "The Lambda runtime client detected an unexpected Node.js exit code."), "crash"],
    ["Unhandled", "crash"],
  ];
  for (const [p, expected] of table) {
    it(`${p.slice(0, 70)} -> ${expected}`, () => expect(classifyFunctionError(p)).toBe(expected));
  }
});

describe("functionError (the reply carried FunctionError)", () => {
  const task = { index: 4 };
  const payload = (errorType: string, errorMessage: string) => JSON.stringify({ errorType, errorMessage });

  it("a V8 heap OOM (signal: aborted): oom, naming `fanout deploy --memory`", () => {
    const e = functionError(task, payload("Runtime.ExitError", "RequestId: r1 Error: Runtime exited with error: signal: aborted"), 1769);
    expect([e.kind, e.message]).toEqual(["oom", "worker ran out of memory (limit 1769 MB, set with `fanout deploy --memory`): Runtime.ExitError: RequestId: r1 Error: Runtime exited with error: signal: aborted"]);
  });

  it("the platform's timeout: timeout; a message merely containing \"timeout\" is not one", () => {
    const e = functionError(task, payload("Sandbox.Timedout", "Task timed out after 900.00 seconds"), 1024);
    expect([e.kind, e.message]).toEqual(["timeout", "chunk 4: Lambda timed out: Sandbox.Timedout: Task timed out after 900.00 seconds"]);
    expect(functionError(task, payload("Runtime.NodeJsExit", "socket timeout in the job"), 1024).kind).toBe("crash");
  });

  it("an init error: fatal, a ConfigError saying to redeploy (first line of the message only)", () => {
    const e = functionError(task, payload("Runtime.ImportModuleError", "Error: Cannot find module 'index'\nRequire stack:\n- /var/runtime/index.mjs"), 1024);
    expect(e.kind).toBe("crash");
    expect(e.fatal).toBeInstanceOf(ConfigError);
    expect([e.fatal!.message, e.fatal!.hint]).toEqual([
      "the deployed worker function cannot start (Runtime.ImportModuleError: Error: Cannot find module 'index')",
      "redeploy it with `npx fanout deploy` (same --stage and --region)",
    ]);
  });

  it("anything else: crash; a payload that is not JSON is quoted as is", () => {
    const e = functionError(task, payload("Runtime.ExitError", "Runtime exited with error: exit status 1"), 1024);
    expect([e.kind, e.message, e.fatal]).toEqual(["crash", "chunk 4: the worker function failed: Runtime.ExitError: Runtime exited with error: exit status 1", undefined]);
    const raw = functionError(task, "Unhandled", 1024);
    expect([raw.kind, raw.message]).toEqual(["crash", "chunk 4: the worker function failed: Error: Unhandled"]);
    const partial = functionError(task, JSON.stringify({ errorMessage: "boom" }), 1024);
    expect(partial.message).toBe("chunk 4: the worker function failed: Error: boom");
  });
});

describe("isConnectionLoss (the request may have reached Lambda)", () => {
  it("reset, broken pipe, socket hang up: yes; refused or a timeout: no", () => {
    const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect([coded("ECONNRESET"), coded("EPIPE"), new Error("socket hang up"), Object.assign(new Error("wrapped"), { cause: coded("ECONNRESET") })].map(isConnectionLoss)).toEqual([true, true, true, true]);
    expect([coded("ECONNREFUSED"), sdkError("TimeoutError", "timed out"), undefined].map(isConnectionLoss)).toEqual([false, false, false]);
  });
});

describe("classifyInvokeError (Invoke itself failed)", () => {
  const kindAndMessage = (err: unknown) => {
    const e = classifyInvokeError(err, target);
    expect(e).toBeInstanceOf(InfraError);
    return [e.kind, e.message];
  };

  it("throttles: by status 429, by name, or by message", () => {
    expect(kindAndMessage(sdkError("TooManyRequestsException", "Rate exceeded", 429))).toEqual(["throttled", "Lambda throttled the invocation (TooManyRequestsException): Rate exceeded"]);
    expect(kindAndMessage(sdkError("ThrottlingException", "slow down"))).toEqual(["throttled", "Lambda throttled the invocation (ThrottlingException): slow down"]);
    expect(kindAndMessage(sdkError("Error", "Rate exceeded"))[0]).toBe("throttled");
    expect(kindAndMessage(sdkError("Unknown", "oops", 429))[0]).toBe("throttled");
  });

  it("a missing function: crash, saying where and how to deploy", () => {
    const expected = ["crash", "Lambda function fanout-dev-worker not found in eu-west-1: deploy with `npx fanout deploy`"];
    expect(kindAndMessage(sdkError("ResourceNotFoundException", "Function not found"))).toEqual(expected);
    expect(kindAndMessage(sdkError("Unknown", "not found", 404))).toEqual(expected);
  });

  it("403 AccessDeniedException: fatal, an AccessDeniedError naming the action and resource", () => {
    const arn = "arn:aws:lambda:eu-west-1:123456789012:function:fanout-dev-worker";
    const e = classifyInvokeError(sdkError("AccessDeniedException", `User: arn:aws:iam::123456789012:user/x is not authorized to perform: lambda:InvokeFunction on resource: ${arn} because no identity-based policy allows the lambda:InvokeFunction action`, 403), target);
    expect(e.fatal).toBeInstanceOf(AccessDeniedError);
    expect([e.kind, e.fatal!.message, e.fatal!.hint, e.fatal!.exitCode]).toEqual(["crash", `AWS denied lambda:InvokeFunction on ${arn}`, `allow lambda:InvokeFunction on ${arn} in the IAM policy of the user or role that runs fanout`, 3]);
    const bare = classifyInvokeError(sdkError("AccessDeniedException", "Access denied", 403), target);
    expect(bare.fatal!.message).toBe("AWS denied lambda:InvokeFunction on function fanout-dev-worker (eu-west-1)");
  });

  it("a payload too large: serialize", () => {
    expect(kindAndMessage(sdkError("RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes", 413))).toEqual([
      "serialize",
      "the invocation payload is too large for Lambda: Request must be smaller than 6291456 bytes",
    ]);
  });

  it("credentials: crash, with the fix in the message", () => {
    expect(kindAndMessage(sdkError("CredentialsProviderError", "Could not load credentials from any providers"))).toEqual([
      "crash",
      "no AWS credentials found — run `aws configure`, or set AWS_PROFILE / --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ]);
  });

  it("anything else (a dropped connection, a 5xx): transient, keeping the cause", () => {
    const cause = sdkError("TimeoutError", "socket hang up");
    const e = classifyInvokeError(cause, target);
    expect([e.kind, e.message, e.cause]).toEqual(["transient", "TimeoutError: socket hang up", cause]);
    expect(kindAndMessage(sdkError("ServiceException", "internal", 500))).toEqual(["transient", "ServiceException: internal"]);
  });
});
