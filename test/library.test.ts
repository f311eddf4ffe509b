import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ChunkFailedError, JobLoadError, map, mapIter, run, UsageError, type Progress, type RunSummary } from "fanout";
import { ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

// The library API used in-process, and the package as a user installs it.
const DIR = tmpDir("library");
const STORE = path.join(DIR, "store");
afterAll(() => rmDir(DIR));
const opts = { cwd: ROOT, store: STORE };
const execFileP = promisify(execFile);

describe("run()", () => {
  it("returns runId, result, summary and attempts", async () => {
    const res = await run<number>("test/fixtures/sum.ts", { ...opts, chunks: 7 });
    expect(res.result).toBe(499500);
    expect(res.runId).toMatch(/^\d{8}T\d{6}Z-[a-z0-9]{6}$/);
    expect(res.summary).toMatchObject({ runId: res.runId, backend: "local", status: "succeeded", chunks: 7, succeeded: 7, failed: 0, skipped: 0 });
    // One winning attempt per chunk.
    const winners = res.attempts.filter((a) => a.won).map((a) => a.index).sort((a, b) => a - b);
    expect(winners).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const a of res.attempts.filter((x) => x.won)) expect(a.outcome).toBe("ok");
    expect(fs.existsSync(path.join(STORE, "runs", res.runId, "manifest.json"))).toBe(true);
  });

  it("accepts a file URL and a job given with an absolute path", async () => {
    const url = new URL("./fixtures/sum.ts", import.meta.url);
    expect((await run<number>(url, { ...opts, chunks: 3 })).result).toBe(499500);
    expect((await run<number>(path.join(ROOT, "test/fixtures/sum.ts"), { ...opts, chunks: 2 })).result).toBe(499500);
  });

  it("calls onProgress with done/total, ending at done === total", async () => {
    const seen: Progress[] = [];
    const res = await run<number>("test/fixtures/sum.ts", { ...opts, chunks: 10, onProgress: (p) => seen.push(p) });
    expect(res.result).toBe(499500);
    expect(seen.length).toBeGreaterThan(0);
    for (const p of seen) {
      expect(p.total).toBe(10);
      expect(p.done).toBeGreaterThanOrEqual(0);
      expect(p.done).toBeLessThanOrEqual(10);
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.done).toBeGreaterThanOrEqual(seen[i - 1]!.done);
    expect(seen.at(-1)).toMatchObject({ total: 10, done: 10, failed: 0 });
  });

  it("tells onNotice the run id, and when fewer chunks are used than asked", async () => {
    const notices: string[] = [];
    const res = await run("test/fixtures/context.ts", { ...opts, chunks: 50, onNotice: (l) => notices.push(l) });
    expect(res.summary.chunks).toBe(7);
    expect(notices).toContain("the input has only 7 integers, so 7 chunks are used instead of 50");
    expect(notices.some((l) => l.includes(res.runId))).toBe(true);
  });

  it("rejects with typed errors: ChunkFailedError for a throwing map, JobLoadError for a bad module, UsageError for bad options", async () => {
    const e1 = await run("test/fixtures/map-throws.ts", opts).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ChunkFailedError);
    expect(e1).toMatchObject({ index: 2, exitCode: 1, remote: { kind: "user", message: "bad value 2 in fixture" } });
    expect((e1 as ChunkFailedError).summary).toMatchObject({ chunks: 4, succeeded: 3, failed: 1 });
    await expect(run("test/fixtures/no-default.ts", opts)).rejects.toBeInstanceOf(JobLoadError);
    await expect(run("test/fixtures/sum.ts", { ...opts, chunks: 0 })).rejects.toBeInstanceOf(UsageError);
    await expect(run("test/fixtures/sum.ts", { ...opts, concurrency: 1.5 })).rejects.toBeInstanceOf(UsageError);
  });
});

describe("map() and mapIter()", () => {
  it("map() over explicit inputs returns results in input order (a plain async function export)", async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => i);
    const out = await map<number, number>("test/fixtures/functions.ts", "square", inputs, opts);
    expect(out).toEqual(inputs.map((x) => x * x));
  });

  it("map() passes ctx: index and count per input", async () => {
    const out = await map<string, unknown>("test/fixtures/functions.ts", "whoAmI", ["a", "b", "c"], opts);
    expect(out).toEqual([
      { input: "a", index: 0, count: 3, attempt: 1 },
      { input: "b", index: 1, count: 3, attempt: 1 },
      { input: "c", index: 2, count: 3, attempt: 1 },
    ]);
  });

  it("map() in order even when results finish in reverse", async () => {
    const inputs = [0, 1, 2, 3, 4, 5, 6, 7];
    expect(await map<number, number>("test/fixtures/functions.ts", "reverseFinish", inputs, opts)).toEqual(inputs.map((x) => x + 1000));
  });

  it("map() over no inputs returns []", async () => {
    expect(await map("test/fixtures/functions.ts", "square", [], opts)).toEqual([]);
  });

  it("mapIter() yields every index exactly once with its value, then returns the summary", async () => {
    const inputs = Array.from({ length: 20 }, (_, i) => i);
    const it = mapIter<number, number>("test/fixtures/functions.ts", "reverseFinish", inputs, { ...opts, concurrency: 20 });
    const seen: { index: number; value: number }[] = [];
    let summary: RunSummary | undefined;
    for (;;) {
      const step = await it.next();
      if (step.done) {
        summary = step.value;
        break;
      }
      seen.push(step.value);
    }
    expect(seen.map((s) => s.index).sort((a, b) => a - b)).toEqual(inputs);
    for (const s of seen) expect(s.value).toBe(s.index + 1000);
    expect(summary).toMatchObject({ status: "succeeded", chunks: 20, succeeded: 20 });
  });

  it("a bad export name gives JobLoadError (missing, or not a function)", async () => {
    await expect(map("test/fixtures/functions.ts", "noSuchExport", [1], opts)).rejects.toBeInstanceOf(JobLoadError);
    await expect(map("test/fixtures/functions.ts", "notAFunction", [1], opts)).rejects.toBeInstanceOf(JobLoadError);
    const e = await map("test/fixtures/functions.ts", "noSuchExport", [1], opts).catch((x: unknown) => x);
    expect((e as Error).message).toContain("noSuchExport");
  });
});

describe("the published package", () => {
  it(
    "works when installed into a separate project: `npx fanout run job.ts` and `import { run } from \"fanout\"`",
    async () => {
      const work = path.join(DIR, "pack");
      fs.mkdirSync(work, { recursive: true });
      // --ignore-scripts: `prepare` would rebuild dist/ under the other test files' feet.
      const packed = await execFileP("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--json"], { cwd: ROOT });
      const tarball = path.join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
      expect(fs.existsSync(tarball)).toBe(true);

      const proj = path.join(work, "consumer");
      fs.mkdirSync(path.join(proj, "lib"), { recursive: true });
      fs.writeFileSync(path.join(proj, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
      await execFileP("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: proj });
      expect(fs.existsSync(path.join(proj, "node_modules/fanout/dist/src/index.js"))).toBe(true);

      fs.writeFileSync(
        path.join(proj, "lib/math.ts"),
        "export function squareSum(start: number, end: number): number {\n  let s = 0;\n  for (let i = start; i < end; i++) s += i * i;\n  return s;\n}\n",
      );
      fs.writeFileSync(
        path.join(proj, "job.ts"),
        [
          'import { defineJob, range } from "fanout";',
          'import { squareSum } from "./lib/math.js";',
          "",
          "export default defineJob({",
          "  input: range(1, 101),",
          "  map: ({ start, end }) => squareSum(start, end),",
          "  reduce: (parts) => parts.reduce((a, b) => a + b, 0),",
          "});",
          "",
        ].join("\n"),
      );
      const cliRun = await execFileP("npx", ["fanout", "run", "job.ts", "--chunks", "4", "-q"], { cwd: proj });
      expect(cliRun.stderr).toBe("");
      expect(JSON.parse(cliRun.stdout)).toBe(338350); // 1² + 2² + ... + 100²
      // The default store is .fanout in the project.
      expect(fs.existsSync(path.join(proj, ".fanout/runs"))).toBe(true);

      fs.writeFileSync(
        path.join(proj, "use-lib.mjs"),
        'import { run, map } from "fanout";\nconst r = await run("job.ts", { chunks: 3 });\nconsole.log(JSON.stringify({ result: r.result, chunks: r.summary.chunks }));\n',
      );
      const libRun = await execFileP(process.execPath, ["use-lib.mjs"], { cwd: proj });
      expect(JSON.parse(libRun.stdout)).toEqual({ result: 338350, chunks: 3 });
    },
    120_000,
  );
});
