import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FolderStore } from "../dist/src/store/folder.js";
import { parseDuration } from "../dist/src/options.js";
import { localStoreRoot, projectRoot } from "../dist/src/compute/open.js";
import { fanout } from "./helpers/cli.js";
import { rmDir, runIdIn, tmpDir } from "./helpers/tmp.js";

// The local store as a user meets it: one `.fanout/` per project, ignored by git, prunable by age.
const DIR = tmpDir("local-store");
const PROJ = path.join(DIR, "proj");
const SUB = path.join(PROJ, "src", "jobs");
const STORE = path.join(PROJ, ".fanout");
afterAll(() => rmDir(DIR));

const job = (n: number) =>
  `import { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, ${n}), map: ({ start, end }) => end - start, reduce: (c) => c.reduce((a, b) => a + b, 0) });\n`;

beforeAll(() => {
  fs.mkdirSync(SUB, { recursive: true });
  fs.writeFileSync(path.join(PROJ, "package.json"), '{ "name": "proj", "private": true, "type": "module" }\n');
  fs.writeFileSync(path.join(SUB, "ten.ts"), job(10));
  fs.writeFileSync(path.join(SUB, "twenty.ts"), job(20));
});

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

function ageAll(dir: string, days: number): void {
  const t = new Date(Date.now() - days * 86_400_000);
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) fs.utimesSync(path.join(e.parentPath, e.name), t, t);
  }
}

describe("the default store", () => {
  it("is .fanout at the project root, made with a .gitignore holding *, from any subfolder", async () => {
    execFileSync("git", ["init", "-q"], { cwd: PROJ });
    const res = await fanout(["run", "ten.ts", "--chunks", "2", "-q"], { cwd: SUB });
    expect(res.stderr).toBe("");
    expect(JSON.parse(res.stdout)).toBe(10);
    expect(fs.readFileSync(path.join(STORE, ".gitignore"), "utf8")).toBe("*\n");
    expect(fs.existsSync(path.join(SUB, ".fanout"))).toBe(false);
    // git sees the job files and package.json, nothing of the store.
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: PROJ, encoding: "utf8" });
    expect(status.split("\n").filter(Boolean).sort()).toEqual(["?? package.json", "?? src/jobs/ten.ts", "?? src/jobs/twenty.ts"]);
    // Another subfolder finds the same store.
    const st = await fanout(["status", "--json"], { cwd: path.join(PROJ, "src") });
    expect(JSON.parse(st.stdout).map((r: { chunks: number }) => r.chunks)).toEqual([2]);
  });

  it("resolves: nearest package.json upward, else cwd; a given store is taken from cwd", () => {
    expect(projectRoot(SUB)).toBe(PROJ);
    expect(localStoreRoot(SUB)).toBe(STORE);
    expect(localStoreRoot(SUB, "here")).toBe(path.join(SUB, "here"));
    const bare = path.join(DIR, "no-package", "deep");
    fs.mkdirSync(bare, { recursive: true });
    expect(projectRoot(bare)).toBe(bare);
  });

  it("a store folder that already existed gets no .gitignore written into it", async () => {
    const mine = path.join(DIR, "existing-store");
    fs.mkdirSync(mine);
    const store = new FolderStore(mine);
    await store.put("runs/x/a.json", "{}");
    expect(fs.existsSync(path.join(mine, ".gitignore"))).toBe(false);
    const fresh = new FolderStore(path.join(DIR, "fresh-store"));
    await fresh.put("runs/x/a.json", "{}");
    expect(fs.readFileSync(path.join(DIR, "fresh-store", ".gitignore"), "utf8")).toBe("*\n");
  });
});

describe("temporary files of killed writers", () => {
  it("are removed at the next open; a live writer's are kept", async () => {
    const results = path.join(STORE, "runs", "20200101T000000Z-aaaaaa", "results");
    fs.mkdirSync(results, { recursive: true });
    const dead = path.join(results, `seg-local-1-3.jsonl.${deadPid()}.7.tmp`);
    const deadBundle = path.join(STORE, "bundles", `${"0".repeat(64)}.mjs.${deadPid()}.1.tmp`);
    const live = path.join(results, `seg-local-2-1.jsonl.${process.pid}.1.tmp`);
    for (const f of [dead, deadBundle, live]) fs.writeFileSync(f, '{"index":0,"ok":tr');
    const st = await fanout(["status"], { cwd: SUB });
    expect(st.code).toBe(0);
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(deadBundle)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    fs.rmSync(path.join(STORE, "runs", "20200101T000000Z-aaaaaa"), { recursive: true });
  });
});

describe("fanout gc --older-than", () => {
  it("parses durations", () => {
    expect(parseDuration("older-than", "30m")).toBe(30 * 60_000);
    expect(parseDuration("older-than", "12h")).toBe(12 * 3_600_000);
    expect(parseDuration("older-than", "7d")).toBe(7 * 86_400_000);
    expect(parseDuration("older-than", "2w")).toBe(14 * 86_400_000);
    expect(parseDuration("older-than", "1.5h")).toBe(5_400_000);
    for (const bad of ["7", "d", "-1d", "7x", "", "7 days"]) expect(() => parseDuration("older-than", bad)).toThrow(/--older-than must be a duration like 30m, 12h or 7d/);
  });

  it("removes old runs and what only they used, keeps the rest; --dry-run removes nothing", async () => {
    // Three more runs: twenty.ts twice (same bundle), ten.ts once more.
    const ids: Record<string, string> = {};
    for (const [name, file] of [["oldTwenty", "twenty.ts"], ["newTwenty", "twenty.ts"], ["oldTen", "ten.ts"]] as const) {
      const r = await fanout(["run", file, "--chunks", "3"], { cwd: SUB });
      expect(r.code).toBe(0);
      ids[name] = runIdIn(r.stderr);
    }
    const first = JSON.parse((await fanout(["status", "--json"], { cwd: SUB })).stdout)[0].runId as string;
    const bundleOf = (id: string) => JSON.parse(fs.readFileSync(path.join(STORE, "runs", id, "manifest.json"), "utf8")).job.bundleKey as string;
    const tenBundle = bundleOf(first);
    const twentyBundle = bundleOf(ids.newTwenty!);
    expect(bundleOf(ids.oldTen!)).toBe(tenBundle);
    // Age everything but the newer twenty.ts run by 10 days.
    ageAll(path.join(STORE, "bundles"), 10);
    for (const id of [first, ids.oldTwenty!, ids.oldTen!]) ageAll(path.join(STORE, "runs", id), 10);
    const deadTemp = path.join(STORE, "runs", ids.newTwenty!, `manifest.json.${deadPid()}.1.tmp`);

    fs.writeFileSync(deadTemp, "{");
    const dry = await fanout(["gc", "--older-than", "7d", "--dry-run"], { cwd: SUB });
    expect(dry.code).toBe(0);
    const old = [first, ids.oldTwenty!, ids.oldTen!].sort();
    expect(dry.stdout).toContain(`fanout gc (${STORE}/, runs untouched for 7d): would remove\n  3 runs:\n`);
    for (const id of old) expect(dry.stdout).toMatch(new RegExp(`^    ${id}  last written \\S+  \\(\\d+ objects\\)$`, "m"));
    expect(dry.stdout).toContain(`  1 bundles and inputs no kept run uses:\n    ${tenBundle}\n  1 temporary files left by killed writers\nkept 1 runs\n`);
    for (const id of old) expect(fs.existsSync(path.join(STORE, "runs", id))).toBe(true);
    expect(fs.existsSync(deadTemp)).toBe(true);

    const gc = await fanout(["gc", "--older-than", "7d"], { cwd: SUB });
    expect(gc.code).toBe(0);
    expect(gc.stdout).toContain("): removing\n  3 runs:\n");
    expect(fs.readdirSync(path.join(STORE, "runs"))).toEqual([ids.newTwenty]);
    expect(fs.existsSync(path.join(STORE, tenBundle))).toBe(false);
    expect(fs.existsSync(path.join(STORE, twentyBundle))).toBe(true); // old, but the kept run uses it
    expect(fs.existsSync(deadTemp)).toBe(false);
    expect(fs.readFileSync(path.join(STORE, ".gitignore"), "utf8")).toBe("*\n");
    const st = JSON.parse((await fanout(["status", "--json"], { cwd: SUB })).stdout);
    expect(st.map((r: { runId: string }) => r.runId)).toEqual([ids.newTwenty]);
    // The kept run still resumes from its store.
    const again = await fanout(["run", "twenty.ts", "--resume", ids.newTwenty!, "-q"], { cwd: SUB });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toBe(20);
  });

  it("bad or missing --older-than is a usage error", async () => {
    const bad = await fanout(["gc", "--older-than", "7x"], { cwd: SUB });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('fanout: --older-than must be a duration like 30m, 12h or 7d, got "7x" — e.g. --older-than 7d\n');
    const none = await fanout(["gc"], { cwd: SUB });
    expect(none.code).toBe(2);
    expect(none.stderr).toBe("fanout: required option '--older-than <duration>' not specified — see `fanout gc --help`\n");
  });
});

describe("fanout teardown --backend local", () => {
  it("empties the project's store", async () => {
    const dry = await fanout(["teardown", "--backend", "local", "--dry-run"], { cwd: SUB });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^fanout teardown \(local\): would remove$/m);
    const res = await fanout(["teardown", "--backend", "local"], { cwd: SUB });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`from ${STORE}/`);
    expect(JSON.parse((await fanout(["status", "--json"], { cwd: SUB })).stdout)).toEqual([]);
  });
});
