import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";

// Compile-time checks of the job contract, against the built declarations (dist/*.d.ts)
// that `import ... from "fanout"` resolves to. The fixtures are in test/fixtures/types:
//   good.ts       correct jobs, with their inferred types pinned (must compile)
//   bad.ts        mistakes, each under @ts-expect-error (an unused one is an error)
//   job-output.ts the JobOutput<typeof job> helper
//   reduce-info.ts reduce's { failed } argument and maxFailures (partial runs)
//   canary/       an unused @ts-expect-error, which must fail: proof the mechanism works
const TSC = path.join(ROOT, "node_modules/typescript/bin/tsc");
const FIXTURES = path.join(ROOT, "test/fixtures/types");

interface TscResult {
  code: number;
  output: string;
}

async function tsc(project: string): Promise<TscResult> {
  try {
    const r = await promisify(execFile)(process.execPath, [TSC, "--noEmit", "--pretty", "false", "-p", project], { cwd: ROOT });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

function diagnosticsOf(output: string, file: string): string[] {
  return output.split("\n").filter((l) => l.includes(`test/fixtures/types/${file}(`));
}

describe("type checks of defineJob and the library API", () => {
  let main: TscResult;
  beforeAll(async () => {
    main = await tsc(path.join(FIXTURES, "tsconfig.json"));
  }, 60_000);

  it("no diagnostics outside the checked fixture files", () => {
    // Any diagnostic in a file other than the ones checked below is a broken fixture or API.
    const others = main.output
      .split("\n")
      .filter((l) => l.trim() && !/test\/fixtures\/types\/(good|bad|job-output|reduce-info)\.ts\(/.test(l));
    expect(others).toEqual([]);
  });

  it("correct jobs compile, with the chunk, result and output types inferred exactly (good.ts)", () => {
    expect(diagnosticsOf(main.output, "good.ts")).toEqual([]);
  });

  it("every mistake in bad.ts is a compile error: no unused @ts-expect-error, no other error", () => {
    expect(diagnosticsOf(main.output, "bad.ts")).toEqual([]);
  });

  it("JobOutput<typeof job> is the job's output type (job-output.ts)", () => {
    expect(diagnosticsOf(main.output, "job-output.ts")).toEqual([]);
  });

  it("reduce gets { failed } as ReduceInfo, maxFailures takes a count or a percentage (reduce-info.ts)", () => {
    expect(diagnosticsOf(main.output, "reduce-info.ts")).toEqual([]);
  });

  it("tsc exits 0 on the whole fixture project", () => {
    expect(main.code, main.output).toBe(0);
  });

  it("control: an unused @ts-expect-error does fail the compile", async () => {
    const r = await tsc(path.join(FIXTURES, "canary/tsconfig.json"));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/canary\.ts\(8,\d+\): error TS2578: Unused '@ts-expect-error' directive/);
  }, 60_000);
});
