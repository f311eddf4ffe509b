// `fanout emulate --memory 256,1024` keeps a stack with one worker function per memory tier, as
// `fanout deploy --memory 256,1024` deploys them, and prints the FANOUT_EMULATOR that points
// runs at it: a run with `--memory 1024` then runs on the 1024 MB function.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, fanout, ROOT } from "../helpers/cli.js";

const CWD = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-emulate-"));
afterAll(() => fs.rmSync(CWD, { recursive: true, force: true }));

describe("fanout emulate --memory", () => {
  it("serves a worker per tier, names them in FANOUT_EMULATOR, and a run picks its tier; Ctrl-C stops it", async () => {
    const stage = `emu${process.pid}`;
    const child = spawn(process.execPath, [BIN, "emulate", "--stage", stage, "--memory", "256,1024"], { cwd: CWD, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    try {
      const value = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding("utf8").on("data", (s: string) => {
          out += s;
          const m = /export FANOUT_EMULATOR='(.*)'/.exec(out);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) => reject(new Error(`emulate exited (${code}): ${err}`)));
      });
      const endpoints = JSON.parse(value) as { functionName: string; tiers?: string };
      expect(endpoints.functionName).toBe(`fanout-${stage}-worker`);
      expect(endpoints.tiers).toBe(`256=fanout-${stage}-worker,1024=fanout-${stage}-worker1024`);
      expect(out).toContain(`function fanout-${stage}-worker (memory tiers 256=fanout-${stage}-worker,1024=fanout-${stage}-worker1024)`);

      const res = await fanout(["run", "examples/primes.ts", "--backend", "emulated", "--memory", "1024", "--chunks", "4", "--json", "-q"], { env: { FANOUT_EMULATOR: value } });
      expect(res.code, res.stderr).toBe(0);
      const { result, summary } = JSON.parse(res.stdout) as { result: number; summary: { memoryMb: number } };
      expect(result).toBe(664579);
      expect(summary.memoryMb).toBe(1024);
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
    expect(err).toContain("emulated stack stopped");
  }, 120_000);
});
