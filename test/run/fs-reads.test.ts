// The relative-read check a remote run makes before dispatch (src/run/fs-reads.ts): which
// reads of the job's sources it sees, and which it leaves to the worker's ENOENT hint.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkFsReads } from "../../dist/src/run/fs-reads.js";
import { rmDir, tmpDir } from "../helpers/tmp.js";

const cwd = tmpDir("fs-reads-");
afterAll(() => rmDir(cwd));
fs.mkdirSync(path.join(cwd, "jobs", "data"), { recursive: true });
for (const f of ["jobs/data/a.csv", "jobs/b.json", "top.txt", "jobs/lib.bin"]) fs.writeFileSync(path.join(cwd, f), "x");

/** Check a job whose one source is `code`, with `shipped` files (relative to cwd) in its assets. */
function check(code: string, shipped: string[] = [], more: Record<string, string> = {}): void {
  const job = path.join(cwd, "jobs", "job.ts");
  fs.writeFileSync(job, code);
  const sources = [job];
  for (const [name, text] of Object.entries(more)) {
    fs.writeFileSync(path.join(cwd, name), text);
    sources.push(path.join(cwd, name));
  }
  checkFsReads("jobs/job.ts", sources, cwd, new Set(shipped.map((f) => path.join(cwd, f))));
}

describe("checkFsReads", () => {
  it("names the first unshipped file read by readFileSync, readFile, createReadStream or new URL(…, import.meta.url)", () => {
    expect(() => check(`fs.readFileSync("./data/a.csv", "utf8")`)).toThrow('jobs/job.ts: reads ./data/a.csv from disk, which the workers will not have');
    expect(() => check(`await fs.promises.readFile('b.json')`)).toThrow("reads b.json from disk");
    expect(() => check("createReadStream(`top.txt`)")).toThrow("reads top.txt from disk");
    expect(() => check(`new URL("./lib.bin", import.meta.url)`)).toThrow("reads ./lib.bin from disk");
    let err: unknown;
    try {
      check(`readFileSync("data/a.csv"); readFileSync("b.json"); readFileSync("top.txt")`);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe("jobs/job.ts: reads data/a.csv from disk, which the workers will not have (and 2 more files)");
    expect((err as { hint: string }).hint).toBe('ship it with assets: ["data/a.csv"] and open it with ctx.asset("data/a.csv")');
  });

  it("looks in the job's other sources too", () => {
    expect(() => check(`import "./helper.ts";`, [], { "jobs/helper.ts": `readFileSync("./data/a.csv")` })).toThrow("reads ./data/a.csv from disk");
  });

  it("passes shipped files, commented-out reads, absolute paths, computed paths and files that do not exist", () => {
    expect(() => check(`readFileSync("./data/a.csv")`, ["jobs/data/a.csv"])).not.toThrow();
    expect(() => check(`// readFileSync("./data/a.csv")\n/* readFile("b.json") */`)).not.toThrow();
    expect(() => check(`readFileSync("${path.join(cwd, "top.txt")}")`)).not.toThrow();
    expect(() => check(`readFileSync(process.env.F ?? "b.json"); readFileSync(\`\${dir}/b.json\`)`)).not.toThrow();
    expect(() => check(`readFileSync("./nope.csv"); readFile("node:fs")`)).not.toThrow();
  });
});
