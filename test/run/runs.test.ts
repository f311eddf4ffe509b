// Runs in the order they started: a run id carries its start second only, so runs started within
// one second are ordered by their manifests' createdAt (status lists them, logs picks the newest).
import * as fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { latestRunId, runManifests } from "../../dist/src/run/runs.js";
import { FolderStore } from "../../dist/src/store/folder.js";
import { keys } from "../../dist/src/store/keys.js";
import { tmpDir } from "../helpers/tmp.js";

const DIR = tmpDir("run-list");
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

async function storeWith(runs: [id: string, createdAt: string][]): Promise<FolderStore> {
  const store = new FolderStore(`${DIR}/${runs.length}-${Math.random().toString(36).slice(2)}`);
  for (const [runId, createdAt] of runs) await store.put(keys.manifest(runId), JSON.stringify({ v: 1, runId, createdAt }));
  return store;
}

describe("runManifests and latestRunId", () => {
  it("within one second, the manifests' milliseconds decide, not the ids' random tails", async () => {
    const store = await storeWith([
      ["20261128T052400Z-zzzzzz", "2026-11-28T05:24:00.120Z"],
      ["20261128T052400Z-aaaaaa", "2026-11-28T05:24:00.870Z"],
      ["20261128T052359Z-mmmmmm", "2026-11-28T05:23:59.990Z"],
      ["20261128T052400Z-kkkkkk", "2026-11-28T05:24:00.500Z"],
    ]);
    expect((await runManifests(store)).map((m) => m.runId)).toStrictEqual([
      "20261128T052359Z-mmmmmm",
      "20261128T052400Z-zzzzzz",
      "20261128T052400Z-kkkkkk",
      "20261128T052400Z-aaaaaa",
    ]);
    expect(await latestRunId(store)).toBe("20261128T052400Z-aaaaaa");
  });

  it("the newest of runs in different seconds, and none in an empty store", async () => {
    const store = await storeWith([
      ["20261128T052401Z-aaaaaa", "2026-11-28T05:24:01.001Z"],
      ["20261128T052400Z-zzzzzz", "2026-11-28T05:24:00.999Z"],
    ]);
    expect(await latestRunId(store)).toBe("20261128T052401Z-aaaaaa");
    expect(await latestRunId(await storeWith([]))).toBeUndefined();
    expect(await runManifests(await storeWith([]))).toStrictEqual([]);
  });
});
