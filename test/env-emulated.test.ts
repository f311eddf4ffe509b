// A run's env on the emulated stack: the worker (serverless-offline behind worker/emulated.ts,
// which leaves a chunk only the variables Lambda defines) gets them from the Lambda payload,
// and logs, status and --json show them masked. Secrets on the emulated stack, read from a
// loopback SSM the stack is started with, are in test/files-emulated.test.ts.
import { describe, expect, it } from "vitest";
import { fanout } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";

const emulated = emulatorForFile();
const TOKEN = "s3cr3t-token-value";
const rev = (s: string) => [...s].reverse().join("");

describe("env on the emulated stack", () => {
  it("sets defaults.env and --env in the Lambda worker's process.env, masked in logs and status", async () => {
    const env = emulated.current.env;
    const res = await fanout(["run", "test/fixtures/vars/env-job.ts", "--backend", "emulated", "-q", "--json", "--env", `FANOUT_T_TOKEN=${TOKEN}`], { env });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { result: unknown[]; summary: { runId: string; memory: { maxMb: number; limitMb: number } } };
    expect(out.result).toEqual(Array(4).fill({ where: "job-default", token: rev(TOKEN), key: null }));
    expect(res.stdout).not.toContain(TOKEN);
    // Peak memory comes back from the Lambda worker too.
    expect(out.summary.memory.maxMb).toBeGreaterThan(0);
    const logs = await fanout(["logs", out.summary.runId, "1", "--backend", "emulated"], { env });
    expect(logs.stdout).toContain("token is ***");
    expect(logs.stdout).not.toContain(TOKEN);
    const status = await fanout(["status", out.summary.runId, "--backend", "emulated", "--json"], { env });
    expect(JSON.parse(status.stdout).env).toEqual(["FANOUT_T_WHERE=***", "FANOUT_T_TOKEN=***"]);
  });
});
