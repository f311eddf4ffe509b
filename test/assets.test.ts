// Files a chunk needs, on the local backend: a job's assets are resolved from its folder,
// stored once by hash, checked by the worker and read in place with ctx.asset; a stored copy
// that changed is refused; a relative path the worker does not have gets the "ship it" hint.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fanout, ROOT } from "./helpers/cli.js";
import { expectedTotal, freshAssetJob } from "./helpers/assets.js";
import { tmpDir } from "./helpers/tmp.js";

const STORE = tmpDir("fanout-assets-");
afterAll(() => fs.rmSync(STORE, { recursive: true, force: true }));

describe("assets on the local backend", () => {
  it("ships model.bin and tables/*.json: the exact answer, read in place from the store, recorded in the manifest", async () => {
    const res = await fanout(["run", "test/fixtures/assets/job.ts", "--store", STORE, "-q", "--json"]);
    expect(res.stderr).toBe("");
    const out = JSON.parse(res.stdout) as { result: { total: number; models: string[] }; summary: { runId: string } };
    expect(out.result.total).toBe(expectedTotal());
    const manifest = JSON.parse(fs.readFileSync(path.join(STORE, "runs", out.summary.runId, "manifest.json"), "utf8")) as { assets: Record<string, { key: string; sha256: string; size: number }> };
    // The glob took the JSON tables only, named relative to the job's folder.
    expect(Object.keys(manifest.assets)).toEqual(["model.bin", "tables/a.json", "tables/b.json"]);
    expect(manifest.assets["model.bin"]!.size).toBe(1000);
    expect(manifest.assets["model.bin"]!.key).toBe(`inputs/${manifest.assets["model.bin"]!.sha256}`);
    // Every chunk read the store's own file: no copy was made.
    expect(out.result.models).toEqual([path.join(STORE, manifest.assets["model.bin"]!.key)]);
  });

  it("refuses a stored asset whose bytes changed, naming the asset", async () => {
    const dir = tmpDir("fanout-assets-job-");
    try {
      const { job, key } = freshAssetJob(dir);
      // The object the run would use is already in the store, with other bytes.
      fs.mkdirSync(path.join(STORE, "inputs"), { recursive: true });
      fs.writeFileSync(path.join(STORE, key), "tampered");
      const res = await fanout(["run", job, "--store", STORE, "-q"]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(new RegExp(`chunk \\d failed: AssetIntegrityError: asset weights\\.bin \\(${key}\\) has sha256 [0-9a-f]{64}, not the ${key.slice(7)} the run uploaded`));
      expect(res.stderr).toContain("— delete that object from the store, then start a new run (it uploads the job's file again)");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a chunk that opens a relative file the worker does not have is told to ship it with assets", async () => {
    // From another working directory the relative path the job reads is not there.
    const res = await fanout(["run", path.join(ROOT, "test/fixtures/assets/reads-relative.ts"), "--store", STORE, "-q"], { cwd: STORE });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("ENOENT: no such file or directory, open 'test/fixtures/assets/tables/a.json'; a relative path is read from the worker's working directory");
    expect(res.stderr).toContain("ship it with assets: [...] in defineJob");
  });
});
