// Which failures the executor may retry as an outage (transient) and which are the chunk's own.
import { describe, expect, it } from "vitest";
import { ChunkCancelledError, ChunkScopeError, ChunkTimeoutError, classify, isTransient } from "../../dist/worker/classify.js";
import { SerializeError } from "../../dist/src/serialize.js";

const withCode = (code: string) => Object.assign(new Error(`${code}: something`), { code });

describe("isTransient", () => {
  it.each(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "EACCES", "EPERM", "EROFS", "ENOSPC", "EBUSY", "EMFILE", "ENOTDIR", "ENOENT", "EIO"])(
    "a store or network error with code %s is transient",
    (code) => expect(isTransient(withCode(code))).toBe(true),
  );

  it("S3 errors: 5xx and 429 are transient, 4xx are not; $retryable is", () => {
    const s3 = (status: number) => Object.assign(new Error("s3"), { $metadata: { httpStatusCode: status } });
    expect(isTransient(s3(500))).toBe(true);
    expect(isTransient(s3(503))).toBe(true);
    expect(isTransient(s3(429))).toBe(true);
    expect(isTransient(s3(403))).toBe(false);
    expect(isTransient(s3(404))).toBe(false);
    expect(isTransient(Object.assign(new Error("throttled"), { $retryable: { throttling: true } }))).toBe(true);
  });

  it("the SDK's timeout and networking errors are transient, by name", () => {
    expect(isTransient(Object.assign(new Error("t"), { name: "TimeoutError" }))).toBe(true);
    expect(isTransient(Object.assign(new Error("n"), { name: "NetworkingError" }))).toBe(true);
  });

  it("other errors and non-errors are not", () => {
    expect(isTransient(new TypeError("x is not a function"))).toBe(false);
    expect(isTransient(withCode("ERR_INVALID_ARG_TYPE"))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
    expect(isTransient("EIO")).toBe(false);
  });
});

describe("classify", () => {
  it("names the kind the executor acts on", () => {
    expect(classify(new ChunkTimeoutError("late")).kind).toBe("timeout");
    expect(classify(new SerializeError("the map result is a BigInt")).kind).toBe("serialize");
    expect(classify(new ChunkCancelledError("no longer needed")).kind).toBe("cancelled");
    expect(classify(withCode("ECONNRESET")).kind).toBe("transient");
    expect(classify(new RangeError("bad")).kind).toBe("user");
  });

  it("an error the chunk's own code threw is the user's, even with an outage's code", () => {
    const own = withCode("EACCES");
    const r = classify(new ChunkScopeError(own));
    expect(r).toMatchObject({ kind: "user", name: "Error", message: "EACCES: something", code: "EACCES" });
  });

  it("a thrown non-Error is described, not lost", () => {
    expect(classify(new ChunkScopeError("just a string"))).toStrictEqual({ kind: "user", name: "NonError", message: 'threw a non-Error value: "just a string"' });
  });
});
