// The local worker's group commit: small ok results of a run go out as one segment file, and
// a result whose segment could not be written comes back as an outage, never as stored.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SEGMENT_MAX_BODY, SegmentWriter } from "../../dist/worker/segment-writer.js";
import { FolderStore } from "../../dist/src/store/folder.js";
import type { Reply, Task } from "../../dist/src/types.js";
import { rmDir, tmpDir } from "../helpers/tmp.js";

const dir = tmpDir("segment-writer");
afterAll(() => rmDir(dir));

const task = (runId: string, index: number) => ({ runId, index, attempt: 1 }) as Task;
const reply = (runId: string, index: number): Reply => ({
  v: 1,
  runId,
  index,
  attempt: 1,
  ok: true,
  value: index,
  timing: { startedAt: 1, endedAt: 2, loadMs: 0, coldStart: false },
  logs: [],
  worker: { platform: "local", id: "local-1" },
  bytes: 1,
});

describe("SegmentWriter", () => {
  it("takes only small ok bodies", () => {
    const w = new SegmentWriter(new FolderStore(path.join(dir, "a")), "1");
    expect(w.empty).toBe(true);
    expect(w.offer(task("r", 0), false, "{}")).toBe(false);
    expect(w.offer(task("r", 0), true, "x".repeat(SEGMENT_MAX_BODY + 1))).toBe(false);
    expect(w.empty).toBe(true);
    expect(w.offer(task("r", 0), true, "x".repeat(SEGMENT_MAX_BODY))).toBe(true);
    expect(w.empty).toBe(false);
  });

  it("writes one segment per run, one line per result, and empties", async () => {
    const store = new FolderStore(path.join(dir, "b"));
    const w = new SegmentWriter(store, "77");
    w.offer(task("r1", 0), true, '{"i":0}');
    w.offer(task("r1", 1), true, '{"i":1}');
    w.offer(task("r2", 0), true, '{"j":0}');
    const batch = [reply("r1", 0), reply("r1", 1), reply("r2", 0)];
    expect(await w.commit(batch)).toBe(batch);
    expect(w.empty).toBe(true);
    const r1 = await store.list("runs/r1/results/");
    expect(r1).toHaveLength(1);
    expect(r1[0]).toMatch(/\/seg-77-\d+\.jsonl$/);
    expect((await store.get(r1[0]!)).toString()).toBe('{"i":0}\n{"i":1}\n');
    expect((await store.list("runs/r2/results/")).length).toBe(1);
  });

  it("a failed segment write turns its results (and only those) into transient errors", async () => {
    // A store rooted under a regular file: every write fails with ENOTDIR, as a broken disk would.
    const file = path.join(dir, "not-a-folder");
    fs.writeFileSync(file, "");
    const w = new SegmentWriter(new FolderStore(path.join(file, "store")), "1");
    w.offer(task("r", 0), true, '{"i":0}');
    const passing = { ...reply("r", 5), value: undefined, stored: true };
    const out = await w.commit([reply("r", 0), passing]);
    expect(out[0]).toMatchObject({ ok: false, error: { kind: "transient" } });
    expect(out[0]).not.toHaveProperty("value");
    expect(out[1]).toBe(passing);
  });
});
