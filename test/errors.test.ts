import { afterAll, describe, expect, it } from "vitest";
import { fanout, type CliResult } from "./helpers/cli.js";
import { errorLines, rmDir, runIdIn, stackLines, tmpDir } from "./helpers/tmp.js";

// Every way a user can get it wrong, through the real CLI: the exit code, exactly one
// "fanout: <problem> — <fix>" line on stderr (runs use -q, so nothing else is there), and
// no stack unless --verbose.
const STORE = tmpDir("errors");
afterAll(() => rmDir(STORE));

const UNKNOWN_RUN = "20200101T000000Z-abc123";

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return fanout([...args, "--store", STORE], { env });
}

/** Asserts the one-line error contract and returns the line. */
function oneError(r: CliResult, code: number, ...mustContain: (string | RegExp)[]): string {
  const lines = errorLines(r.stderr);
  expect(lines, `stderr was:\n${r.stderr}`).toHaveLength(1);
  expect(r.stderr.trim(), "nothing but the error line on stderr").toBe(lines[0]);
  expect(stackLines(r.stderr)).toEqual([]);
  expect(r.code, `stderr was:\n${r.stderr}`).toBe(code);
  const line = lines[0]!;
  expect(line, "the problem, then the fix after ' — '").toMatch(/^fanout: .+ — .+/);
  for (const m of mustContain) {
    if (typeof m === "string") expect(line).toContain(m);
    else expect(line).toMatch(m);
  }
  return line;
}

async function status(runId: string): Promise<{ status: string; chunks: number; done: number; failed: number; missing: number }> {
  const r = await cli(["status", runId, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe("job module problems (exit 2)", () => {
  it("a job file that does not exist", async () => {
    const r = await cli(["run", "test/fixtures/does-not-exist.ts", "-q"]);
    oneError(r, 2, "job file not found", "test/fixtures/does-not-exist.ts");
    expect(r.stdout).toBe("");
  });

  it("a syntax error names file:line:col", async () => {
    const r = await cli(["run", "test/fixtures/syntax-error.ts", "-q"]);
    oneError(r, 2, /test\/fixtures\/syntax-error\.ts:5:\d+/);
  });

  it("an import of a package that does not exist names the package", async () => {
    const r = await cli(["run", "test/fixtures/missing-package.ts", "-q"]);
    oneError(r, 2, "fanout-test-no-such-package-zz9", /test\/fixtures\/missing-package\.ts:2:\d+/, "npm install");
  });

  it("a module without a default export", async () => {
    const r = await cli(["run", "test/fixtures/no-default.ts", "-q"]);
    oneError(r, 2, "no default export", "defineJob");
  });

  it("a default export that is not a job", async () => {
    const r = await cli(["run", "test/fixtures/not-a-job.ts", "-q"]);
    oneError(r, 2, "is not a job", "defineJob");
  });

  it("a job module whose top level throws", async () => {
    const r = await cli(["run", "test/fixtures/top-level-throws.ts", "-q"]);
    oneError(r, 2, "top-level explosion in fixture");
  });

  it("lines() on a file that does not exist", async () => {
    const r = await cli(["run", "test/fixtures/missing-lines.ts", "-q"]);
    oneError(r, 2, "test/fixtures/no-such-input-file.txt");
  });
});

describe("bad flags (exit 2)", () => {
  for (const bad of ["0", "-3", "1.5", "abc"]) {
    it(`--chunks ${bad}`, async () => {
      const r = await cli(["run", "examples/primes.ts", "--chunks", bad, "-q"]);
      oneError(r, 2, "--chunks", `"${bad}"`);
    });
  }

  it("--concurrency 0", async () => {
    const r = await cli(["run", "examples/primes.ts", "--concurrency", "0", "-q"]);
    oneError(r, 2, "--concurrency", '"0"');
  });

  it("an unknown backend", async () => {
    const r = await cli(["run", "examples/primes.ts", "--backend", "nope", "-q"]);
    oneError(r, 2, "nope", "local");
  });

  it("an unknown flag", async () => {
    const r = await cli(["run", "examples/primes.ts", "--frobnicate", "-q"]);
    oneError(r, 2, "--frobnicate");
  });
});

describe("unknown run ids (exit 2)", () => {
  it("--resume with a run id the store does not have", async () => {
    const r = await cli(["run", "examples/primes.ts", "--resume", UNKNOWN_RUN, "-q"], { FANOUT_PRIMES_LIMIT: "1000" });
    oneError(r, 2, UNKNOWN_RUN);
  });

  it("--resume with something that is not a run id", async () => {
    const r = await cli(["run", "examples/primes.ts", "--resume", "not-a-run", "-q"], { FANOUT_PRIMES_LIMIT: "1000" });
    oneError(r, 2, "not-a-run");
  });

  for (const cmd of ["status", "logs"]) {
    it(`${cmd} with an unknown run id`, async () => {
      oneError(await cli([cmd, UNKNOWN_RUN]), 2, UNKNOWN_RUN);
    });
    it(`${cmd} with something that is not a run id`, async () => {
      oneError(await cli([cmd, "not-a-run"]), 2, "not-a-run");
    });
  }
});

describe("chunk failures (exit 1)", () => {
  it("map that throws: chunk index and the user's file:line, no stack, other chunks' results kept", async () => {
    const r = await cli(["run", "test/fixtures/map-throws.ts", "-q"]);
    const line = oneError(r, 1, "chunk 2", "bad value 2 in fixture", /test\/fixtures\/map-throws\.ts:7:\d+/);
    expect(r.stdout).toBe("");
    const st = await status(runIdIn(line));
    expect(st).toMatchObject({ status: "failed", chunks: 4, done: 3, failed: 1, missing: 1 });
  });

  it("map that throws, with --verbose: the remote stack is printed", async () => {
    const r = await cli(["run", "test/fixtures/map-throws.ts", "-q", "--verbose"]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^fanout: chunk 2 failed: .*bad value 2 in fixture/);
    expect(errorLines(r.stderr)).toHaveLength(1);
    const stack = stackLines(r.stderr);
    expect(stack.length).toBeGreaterThan(0);
    expect(stack.join("\n")).toMatch(/test\/fixtures\/map-throws\.ts:7:\d+/);
  });

  const kinds: [string, RegExp][] = [
    ["function", /result\.fn is a function/],
    ["symbol", /result\.sym is a symbol/],
    ["cycle", /result\.self refers back to itself \(a cycle\)/],
    ["bigint", /result\.big is a BigInt \(12345678901234567890n\)/],
  ];
  for (const [kind, what] of kinds) {
    it(`map returning a ${kind}: a serialize error that names it`, async () => {
      const r = await cli(["run", "test/fixtures/map-returns.ts", "-q"], { FANOUT_T_RETURN: kind });
      oneError(r, 1, "chunk 0", "serialize", what);
    });
  }

  it("the control case of map-returns.ts succeeds", async () => {
    const r = await cli(["run", "test/fixtures/map-returns.ts", "-q"], { FANOUT_T_RETURN: "number" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([7]);
  });

  it("the place named in a serialize error is not fanout's own code", async () => {
    // The error is the result's fault, not a line of src/serialize.ts; naming fanout's internals
    // as "at <file:line>" sends the user to the wrong file.
    const r = await cli(["run", "test/fixtures/map-returns.ts", "-q"], { FANOUT_T_RETURN: "function" });
    const line = oneError(r, 1, "serialize");
    expect(line).not.toMatch(/ at (src|dist)\/[\w/.-]+:\d+:\d+/);
  });

  it("reduce that throws: exit 1, one line, and every chunk's result is kept", async () => {
    const r = await cli(["run", "test/fixtures/reduce-throws.ts", "-q"]);
    const line = oneError(r, 1, "reduce", "reduce fixture refuses 4 counts");
    expect(r.stdout).toBe("");
    const st = await status(runIdIn(line));
    expect(st).toMatchObject({ status: "failed", chunks: 4, done: 4, failed: 0, missing: 0 });
  });

  it("many failing chunks stop the run: exit 1 with one line that counts them, even with chunks still queued", async () => {
    // 30 chunks that all throw, two at a time: dispatch stops after the first failures.
    const r = await fanout(["run", "test/fixtures/all-throw.ts", "--chunks", "30", "--concurrency", "2", "-q", "--store", STORE], {
      timeoutMs: 15_000,
    });
    expect(r.signal, "the CLI hung and was killed after 15 s").toBeNull();
    const line = oneError(r, 1, "chunk 0 failed", "chunk 0 always fails", /\(\d+ chunks failed; this is the first\)/);
    const st = await status(runIdIn(line));
    expect(st.done).toBe(0);
    expect(st.failed).toBeGreaterThanOrEqual(10);
  }, 30_000);
});
