// The emulated stack that `--backend emulated` starts by itself (no FANOUT_EMULATOR): its S3
// objects live in the project's store (.fanout/emulated-s3), so a run outlives the stack,
// and a start that fails leaves nothing in the system temp folder.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, fanout, ROOT } from "./helpers/cli.js";
import { rmDir, runIdIn, tmpDir } from "./helpers/tmp.js";

const STORE = tmpDir("emulated-store");
afterAll(() => rmDir(STORE));

/** No stack named: each command starts (and stops) its own. */
const ONE_SHOT = { FANOUT_EMULATOR: "", FANOUT_SLOW_MS: "300", FANOUT_SLOW_COUNT: "24" };

describe("a one-shot emulated run keeps its store in .fanout/emulated-s3", () => {
  it("cancelled mid-way: after its stack stopped, status reads it and --resume finishes it exactly", async () => {
    const args = ["test/fixtures/faults/slow.ts", "--chunks", "24", "--concurrency", "2", "--backend", "emulated", "--store", STORE, "--no-speculate"];
    const child = spawn(process.execPath, [BIN, "run", ...args], { cwd: ROOT, env: { ...process.env, ...ONE_SHOT }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // Cancel once a few chunks are done (the progress line counts them).
    for (let i = 0; i < 600 && !/\b([3-9]|1\d)\/24 done/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(130);
    const runId = runIdIn(stderr);
    expect(fs.readdirSync(path.join(STORE, "emulated-s3"))).toEqual(["fanout-runs-dev"]);

    const status = await fanout(["status", runId, "--backend", "emulated", "--store", STORE, "--json"], { env: ONE_SHOT });
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    const { done } = JSON.parse(status.stdout) as { done: number };
    expect(done).toBeGreaterThanOrEqual(3);
    expect(done).toBeLessThan(24);

    const resumed = await fanout(["run", ...args, "--resume", runId, "--json", "-q"], { env: ONE_SHOT });
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    const out = JSON.parse(resumed.stdout) as { result: number; summary: { skipped: number; succeeded: number } };
    expect(out.result).toBe((24 * 23) / 2);
    expect(out.summary.skipped).toBe(done);
    expect(out.summary.succeeded).toBe(24);
  }, 180_000);
});

describe("temp folders", () => {
  it("the bundle cache drops bundles unused for a day when it writes a new one, and keeps the rest", async () => {
    const { cachedBundleFile } = await import("../dist/src/util/bundle-cache.js");
    const dir = tmpDir("bundle-cache");
    try {
      const now = Date.now();
      const day = 24 * 60 * 60 * 1000;
      fs.writeFileSync(path.join(dir, "old.mjs"), "export {}");
      fs.writeFileSync(path.join(dir, "leftover.mjs.123.tmp"), "export");
      fs.writeFileSync(path.join(dir, "recent.mjs"), "export {}");
      fs.writeFileSync(path.join(dir, "used.mjs"), "export {}");
      for (const [name, age] of [["old.mjs", day + 60_000], ["leftover.mjs.123.tmp", 2 * day], ["recent.mjs", day - 60_000], ["used.mjs", 3 * day]] as const) {
        fs.utimesSync(path.join(dir, name), (now - age) / 1000, (now - age) / 1000);
      }
      // A bundle in use is touched, so the next write keeps it.
      expect(cachedBundleFile(dir, "used", Buffer.from("new code"), now)).toBe(path.join(dir, "used.mjs"));
      const file = cachedBundleFile(dir, "fresh", Buffer.from("export const x = 1;\n"), now);
      expect(fs.readFileSync(file, "utf8")).toBe("export const x = 1;\n");
      expect(fs.readdirSync(dir).sort()).toEqual(["fresh.mjs", "recent.mjs", "used.mjs"]);
    } finally {
      rmDir(dir);
    }
  });

  it("a failed emulated start leaves no folder in the system temp dir", async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as net.AddressInfo).port;
    const tmp = tmpDir("emulated-tmp");
    try {
      // A child with its own TMPDIR, so helpers running elsewhere on the machine do not count.
      const script = `const { startEmulator } = await import(${JSON.stringify(path.join(ROOT, "dist/src/compute/aws/emulator.js"))});
        await startEmulator({ s3Port: ${port}, readyTimeoutMs: 30000 }).then(() => process.exit(9), (e) => { console.log(e.message); process.exit(0); });`;
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^s3rver exited \(code \d+\) before it was ready/);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      busy.close();
      rmDir(tmp);
    }
  }, 60_000);
});
