// Collecting a run's values in chunk order: those the replies carried, the rest read from the
// store (a resumed run's earlier chunks, large results); a missing one is named.
import * as fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { valuesInOrder } from "../../dist/src/run/results.js";
import { FolderStore } from "../../dist/src/store/folder.js";
import { keys } from "../../dist/src/store/keys.js";
import { RunResults } from "../../dist/src/store/results.js";
import { tmpDir } from "../helpers/tmp.js";

const DIR = tmpDir("run-results");
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));
const RUN = "20260101T000000Z-aaaaaa";

function envelope(index: number, value: unknown) {
  return JSON.stringify({ v: 1, runId: RUN, index, attempt: 1, ok: true, value, timing: { startedAt: 0, endedAt: 0, loadMs: 0, coldStart: false }, logs: [], worker: { platform: "local", id: "t" } });
}

describe("valuesInOrder", () => {
  it("puts replied values and stored ones in chunk order", async () => {
    const store = new FolderStore(`${DIR}/a`);
    await store.put(keys.result(RUN, 0), envelope(0, "zero"));
    await store.put(keys.result(RUN, 3), envelope(3, { big: [3] }));
    const replied = new Map<number, unknown>([
      [1, "one"],
      [2, undefined],
    ]);
    expect(await valuesInOrder(new RunResults(store, RUN), 4, replied)).toEqual(["zero", "one", undefined, { big: [3] }]);
  });

  it("a value neither replied nor stored is an error that says which chunk and what to do", async () => {
    const store = new FolderStore(`${DIR}/b`);
    await store.put(keys.result(RUN, 0), envelope(0, 0));
    await expect(valuesInOrder(new RunResults(store, RUN), 2, new Map())).rejects.toMatchObject({
      code: "E_RESULT_MISSING",
      message: "the result of chunk 1 is missing from the store",
      hint: "resume the run to compute it again",
    });
  });

  it("chunks that failed (a partial run) are read from nowhere and stay undefined in their places, not holes", async () => {
    const store = new FolderStore(`${DIR}/c`);
    await store.put(keys.result(RUN, 0), envelope(0, 10));
    const values = await valuesInOrder(new RunResults(store, RUN), 3, new Map([[2, 12]]), new Set([1]));
    expect(values).toEqual([10, undefined, 12]);
    expect(1 in values).toBe(true);
  });
});
