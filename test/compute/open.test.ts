// The store opens first and the compute beside it, with the memory the run resolved: no
// backend carries a store, and none has its memory changed after it opened.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openRunStore } from "../../dist/src/compute/open.js";
import { tmpDir } from "../helpers/tmp.js";

const DIR = tmpDir("compute-open");
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

describe("openRunStore (local)", () => {
  it("opens the folder store alone; the pool opens beside it with the memory it is given", async () => {
    const site = await openRunStore({ backend: "local", cwd: DIR, store: "st" }, 4);
    expect(site.store.location).toContain(path.join(DIR, "st"));
    await site.store.put("runs/x/a.json", "{}");
    expect(fs.existsSync(path.join(DIR, "st", "runs", "x", "a.json"))).toBe(true);
    const compute = await site.openCompute({ memoryMb: 384, concurrency: 4, processes: 1 });
    try {
      expect(compute.name).toBe("local");
      expect(compute.memoryMb).toBe(384);
      expect("store" in compute).toBe(false);
      expect("setMemory" in compute).toBe(false);
    } finally {
      await compute.close();
      await site.close();
    }
  });
});
