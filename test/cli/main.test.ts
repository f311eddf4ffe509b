// The program around the commands: its version, one error per bad --backend, exit codes.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ChunkFailedError, RunAbortedError, UsageError } from "fanout";
import { errorJson, exitCodeOf, formatError } from "../../dist/cli/errors.js";
import { fanout, ROOT } from "../helpers/cli.js";

describe("fanout --version", () => {
  it("prints package.json's version", async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await fanout(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});

describe("a bad --backend", () => {
  // Every command that takes --backend says the same line (bench used commander's own before).
  const line = 'fanout: unknown backend "mars" — use one of: local, aws, emulated\n';
  for (const args of [
    ["run", "examples/primes.ts"],
    ["bench", "examples/primes.ts"],
    ["status"],
    ["logs"],
    ["teardown", "--dry-run"],
  ]) {
    it(`fanout ${args[0]}: the one "unknown backend" error, exit 2`, async () => {
      const r = await fanout([...args, "--backend", "mars"]);
      expect(r.stderr).toBe(line);
      expect(r.code).toBe(2);
    });
  }
});

describe("errors", () => {
  it("take their exit code from the typed error: a cancelled run 130, bad input 2, anything else 1", () => {
    const aborted = new RunAbortedError({ runId: "20260101T000000Z-aaaaaa" });
    expect(exitCodeOf(aborted)).toBe(130);
    expect(errorJson(aborted)).toMatchObject({ code: "E_ABORTED", exitCode: 130, runId: "20260101T000000Z-aaaaaa" });
    expect(exitCodeOf(new UsageError("bad"))).toBe(2);
    expect(exitCodeOf(new Error("bug"))).toBe(1);
    expect(errorJson(new Error("bug"))).toEqual({ code: "E_UNEXPECTED", message: "bug", exitCode: 1 });
  });

  it("are one line without --verbose", () => {
    expect(formatError(new UsageError("--chunks must be a positive integer, got \"0\"", "e.g. --chunks 100"), false)).toBe('fanout: --chunks must be a positive integer, got "0" — e.g. --chunks 100');
    expect(formatError(new Error("boom"), false)).toBe("fanout: unexpected error: boom — rerun with --verbose for the stack, and report it");
    const failed = new ChunkFailedError(3, { kind: "user", name: "Error", message: "no", stack: "Error: no\n    at map (/p/job.ts:4:9)" }, 3, { runId: "20260101T000000Z-aaaaaa", jobPath: "job.ts" });
    expect(formatError(failed, false).split("\n")).toHaveLength(1);
  });
});
