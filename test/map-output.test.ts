// Issue 11: map() and mapIter() take an `output` like run's --output: each input's ctx.write
// lands at <output>/<runId>/<index>/<name>, only if its call succeeds, counted in the summary.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { map, mapIter } from "fanout";
import { ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("map-output");
const MODULE = path.join(ROOT, "test/fixtures/outputs/map-writer.ts");
const INPUTS = ["a", "bcde", "fg", "hijkl"];
afterAll(() => rmDir(DIR));

/** Every file under `root`, by path relative to it, with its text. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(root, { recursive: true, encoding: "utf8" }).sort()) {
    const abs = path.join(root, rel);
    if (fs.statSync(abs).isFile()) out[rel.split(path.sep).join("/")] = fs.readFileSync(abs, "utf8");
  }
  return out;
}

describe("map() with an output", () => {
  it("map(): each input's writes under <output>/<runId>/<index>/", async () => {
    const out = path.join(DIR, "out-map");
    const res = await map<string, number>(MODULE, "shout", INPUTS, { output: out, cwd: DIR, store: path.join(DIR, "store") });
    expect(res).toEqual([1, 4, 2, 5]);
    const [runId, ...more] = fs.readdirSync(out);
    expect(more).toEqual([]);
    expect(tree(path.join(out, runId!))).toEqual({
      "0/shout.txt": "A",
      "1/long/yes.txt": "long",
      "1/shout.txt": "BCDE",
      "2/shout.txt": "FG",
      "3/long/yes.txt": "long",
      "3/shout.txt": "HIJKL",
    });
  });

  it("mapIter(): the summary counts the objects and bytes written", async () => {
    const out = path.join(DIR, "out-iter");
    const it = mapIter<string, number>(MODULE, "shout", INPUTS, { output: out, cwd: DIR, store: path.join(DIR, "store") });
    let next = await it.next();
    while (!next.done) next = await it.next();
    const summary = next.value;
    expect(summary.output).toEqual({ location: path.join(out, summary.runId) + path.sep, objects: 6, bytes: 1 + 4 + 2 + 5 + 4 + 4 });
  });

  it("a folder output on a remote backend is refused before anything starts", async () => {
    await expect(map(MODULE, "shout", INPUTS, { output: "./out", backend: "emulated", cwd: DIR })).rejects.toThrow(
      "--output ./out is a folder on this machine, which emulated workers cannot reach",
    );
  });
});
