// One check of a module's export, with one message, for the client (before a run) and the
// worker (which checks again): the words a user sees either way.
import { describe, expect, it } from "vitest";
import { notAFunction, notAJob } from "../../dist/src/job/check.js";
import { defineJob, range } from "../../dist/src/job/index.js";

describe("notAJob", () => {
  it("a job made by defineJob passes", () => {
    expect(notAJob(defineJob({ input: range(0, 3), map: (c) => c.end - c.start }), "job.ts")).toBeUndefined();
  });

  it("says what the default export is instead, and how to make it a job", () => {
    const fix = 'export default defineJob({ ... }) from "fanout"';
    expect(notAJob(undefined, "job.ts")).toEqual({ problem: "job.ts has no default export", fix: "end the module with `export default defineJob({ input, map, reduce })`" });
    expect(notAJob({ map() {} }, "job.ts")).toEqual({ problem: "the default export of job.ts is not a job (it is an object not made by defineJob)", fix });
    expect(notAJob(() => 1, "the bundle")).toEqual({ problem: "the default export of the bundle is not a job (it is a function; wrap it: defineJob({ input, map: yourFunction }))", fix });
    expect(notAJob(null, "job.ts")?.problem).toBe("the default export of job.ts is not a job (it is null)");
    expect(notAJob(42, "job.ts")?.problem).toBe("the default export of job.ts is not a job (it is a number)");
  });
});

describe("notAFunction", () => {
  it("a function passes; anything else names the export and how to write it", () => {
    expect(notAFunction(() => 1, "square", "lib.ts")).toBeUndefined();
    expect(notAFunction(undefined, "square", "lib.ts")).toEqual({ problem: 'lib.ts has no exported function "square"', fix: "export function square(input) { ... }" });
    expect(notAFunction(3, "square", "the bundle")?.problem).toBe('the bundle has no exported function "square"');
  });
});
