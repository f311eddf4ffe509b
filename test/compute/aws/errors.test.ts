// How fanout reads AWS failures today, as pure functions: a missing or rejected credential,
// a function error (the Invoke reply's FunctionError payload), an Invoke call that failed.
// The next issue reworks this classification against AWS's documented behaviour; these pin
// today's answers exactly, so every change there is a visible diff here.
import { describe, expect, it } from "vitest";
import { ConfigError, InfraError } from "../../../dist/src/errors.js";
import { classifyInvokeError, credentialProblem, describeAwsError, functionError } from "../../../dist/src/compute/aws/errors.js";

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

describe("functionError (the reply carried FunctionError)", () => {
  const task = { index: 4 };
  const payload = (errorType: string, errorMessage: string) => JSON.stringify({ errorType, errorMessage });

  it("out of memory: oom, with the limit and the flag that sets it", () => {
    const e = functionError(task, payload("Runtime.OutOfMemory", "Runtime exited with error: signal: killed"), 1024);
    expect([e.kind, e.message]).toEqual(["oom", "worker ran out of memory (limit 1024 MB, set with --memory): Runtime.OutOfMemory: Runtime exited with error: signal: killed"]);
    expect(functionError(task, payload("Error", "JavaScript heap out of memory"), 512).kind).toBe("oom");
    expect(functionError(task, payload("Error", "Reached heap limit Allocation failed"), 512).kind).toBe("oom");
  });

  it("the platform's timeout: timeout", () => {
    const e = functionError(task, payload("Sandbox.Timedout", "Task timed out after 900.00 seconds"), 1024);
    expect([e.kind, e.message]).toEqual(["timeout", "chunk 4: Lambda timed out: Sandbox.Timedout: Task timed out after 900.00 seconds"]);
  });

  it("anything else: crash; a payload that is not JSON is quoted as is", () => {
    const e = functionError(task, payload("Runtime.ExitError", "Runtime exited with error: exit status 1"), 1024);
    expect([e.kind, e.message]).toEqual(["crash", "chunk 4: the worker function failed: Runtime.ExitError: Runtime exited with error: exit status 1"]);
    const raw = functionError(task, "Unhandled", 1024);
    expect([raw.kind, raw.message]).toEqual(["crash", "chunk 4: the worker function failed: Unhandled"]);
    const partial = functionError(task, JSON.stringify({ errorMessage: "boom" }), 1024);
    expect(partial.message).toBe("chunk 4: the worker function failed: Error: boom");
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
