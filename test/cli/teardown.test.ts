// Teardown empties the bucket before CloudFormation deletes it; invocations a run abandoned run
// on (Lambda does not cancel an invoke the client gave up on) and may write while it does.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { emptyStore } from "../../dist/cli/commands/teardown.js";
import { FolderStore } from "../../dist/src/store/folder.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("emptyStore", () => {
  it("re-lists and deletes what an abandoned invocation wrote while teardown was deleting", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-teardown-"));
    dirs.push(dir);
    const store = new FolderStore(dir);
    await store.put("bundles/abc.mjs", "bundle");
    await store.put("runs/20260101T000000Z-aaaaaa/results/0.json", "{}");
    // The first delete lets a late result land, as a chunk still running on Lambda would.
    const deleteOnce = store.delete.bind(store);
    let late = true;
    store.delete = async (keys: string[]) => {
      await deleteOnce(keys);
      if (late) {
        late = false;
        await store.put("runs/20260101T000000Z-aaaaaa/results/1.json", "{}");
      }
    };
    expect(await emptyStore(store, [0, 0, 0])).toBe(3);
    expect(await store.list("")).toEqual([]);
  });

  it("gives up with the objects left when writes keep arriving", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-teardown-"));
    dirs.push(dir);
    const store = new FolderStore(dir);
    await store.put("runs/20260101T000000Z-aaaaaa/results/0.json", "{}");
    const deleteOnce = store.delete.bind(store);
    let n = 0;
    store.delete = async (keys: string[]) => {
      await deleteOnce(keys);
      await store.put(`runs/20260101T000000Z-aaaaaa/results/${++n}.json`, "{}");
    };
    await expect(emptyStore(store, [0, 0])).rejects.toThrow(/1 objects are still in .* after deleting/);
  });
});
