// The Lambda handler ends a chunk itself a second before Lambda's hard timeout, so the chunk
// fails as a timeout with its logs rather than as a killed container. "Lambda function
// context object in Node.js": getRemainingTimeInMillis() returns the milliseconds left
// before the execution times out.
import { describe, expect, it } from "vitest";
import { withinLambdaDeadline } from "../../dist/worker/lambda-handler.js";
import type { Task } from "../../dist/src/types.js";

const task = { timeoutMs: 60_000, index: 0 } as Task;

describe("withinLambdaDeadline", () => {
  it("leaves a task whose deadline falls well inside the time left", () => {
    expect(withinLambdaDeadline(task, 900_000)).toBe(task);
    expect(withinLambdaDeadline(task, undefined)).toBe(task);
  });

  it("moves the deadline to a second before Lambda's", () => {
    expect(withinLambdaDeadline(task, 30_000)).toStrictEqual({ ...task, timeoutMs: 29_000 });
    expect(task.timeoutMs).toBe(60_000);
  });

  it("never below one second", () => {
    expect(withinLambdaDeadline(task, 1_500).timeoutMs).toBe(1_000);
  });
});
