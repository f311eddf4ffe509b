// The worker's cancel watch: it looks for the run's and the attempt's markers only after the
// chunk has run a while, then on every interval, and stops looking once ended.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keys } from "../../dist/src/store/keys.js";
import { FolderStore } from "../../dist/src/store/folder.js";
import type { ObjectStore } from "../../dist/src/store/types.js";
import type { Task } from "../../dist/src/types.js";
import { watchCancel } from "../../dist/worker/cancel-watch.js";

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-watch-"));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const task = { runId: "20261127T044612Z-k3j9xq", index: 3, attempt: 2 } as Task;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The folder store, counting the existence checks made. */
function countingStore(): { store: ObjectStore; checks: () => number } {
  const store = new FolderStore(fs.mkdtempSync(path.join(ROOT, "s-")));
  let n = 0;
  const exists = store.exists.bind(store);
  store.exists = (key: string) => {
    n++;
    return exists(key);
  };
  return { store, checks: () => n };
}

describe("watchCancel", () => {
  it("makes no check before afterMs, then finds this attempt's marker and says why", async () => {
    const { store, checks } = countingStore();
    const reasons: string[] = [];
    const end = watchCancel(store, task, (why) => reasons.push(why), { afterMs: 150, everyMs: 20 });
    await sleep(100);
    expect(checks()).toBe(0);
    await store.put(keys.cancelAttempt(task.runId, 3, 1), "{}"); // another attempt's marker: not this one
    await sleep(150);
    expect(checks()).toBeGreaterThan(0);
    expect(reasons).toEqual([]);
    await store.put(keys.cancelAttempt(task.runId, 3, 2), "{}");
    await sleep(100);
    expect(reasons).toEqual(["chunk 3 attempt 2 stopped: another attempt finished the chunk first"]);
    end();
  });

  it("the run's marker stops every chunk of the run", async () => {
    const { store } = countingStore();
    await store.put(keys.cancelRun(task.runId), "{}");
    const reasons: string[] = [];
    const end = watchCancel(store, task, (why) => reasons.push(why), { afterMs: 10, everyMs: 10 });
    await sleep(100);
    expect(reasons).toEqual(["chunk 3 stopped: its run was cancelled"]);
    end();
  });

  it("once ended (the chunk settled), it makes no more checks", async () => {
    const { store, checks } = countingStore();
    const end = watchCancel(store, task, () => {}, { afterMs: 10, everyMs: 10 });
    await sleep(60);
    end();
    const made = checks();
    await sleep(60);
    expect(checks()).toBe(made);
  });
});
