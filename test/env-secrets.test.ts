// A run's variables (defaults.env, --env, --env-file) and secrets (--secret through SSM) reach
// the worker's process.env for each chunk, and their values stay out of the store, the logs,
// status and --json. SSM is a loopback fake (test/helpers/fake-ssm.ts): the emulated stack
// cannot serve it, so the worker's real SDK call goes there through AWS_ENDPOINT_URL_SSM.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fanout } from "./helpers/cli.js";
import { startFakeSsm, type FakeSsm } from "./helpers/fake-ssm.js";
import { tmpDir } from "./helpers/tmp.js";

const TOKEN = "s3cr3t-token-value";
const KEY = "k3y-from-parameter-store";
const rev = (s: string) => [...s].reverse().join("");
let ssm: FakeSsm;
let STORE: string;
let awsEnv: Record<string, string>;

beforeAll(async () => {
  ssm = await startFakeSsm({ "/fanout-test/key": KEY, "/aws/reference/secretsmanager/fanout-test-sm": KEY });
  STORE = tmpDir("fanout-vars-");
  awsEnv = { AWS_ENDPOINT_URL_SSM: ssm.url, AWS_ACCESS_KEY_ID: "AKIAFANOUTTEST", AWS_SECRET_ACCESS_KEY: "secret", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };
});
afterAll(async () => {
  await ssm.close();
  fs.rmSync(STORE, { recursive: true, force: true });
});

/** The runs a store holds. */
function runsIn(store: string): string[] {
  return fs.existsSync(path.join(store, "runs")) ? fs.readdirSync(path.join(store, "runs")).sort() : [];
}

/** Every file under `dir`, read as text. */
function allText(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), "latin1"))
    .join("\n");
}

describe("env and secrets on the local backend", () => {
  it("a secret that does not exist stops the run before any chunk runs, naming it", async () => {
    const before = runsIn(STORE);
    const from = ssm.reads.length;
    const res = await fanout(["run", "test/fixtures/vars/env-job.ts", "--store", STORE, "-q", "--secret", "FANOUT_T_KEY=ssm:/fanout-test/key", "--secret", "FANOUT_T_GONE=ssm:/fanout-test/gone"], { env: awsEnv });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe("fanout: secret FANOUT_T_GONE (ssm:/fanout-test/gone) does not exist: no parameter /fanout-test/gone — create it (`aws ssm put-parameter --name /fanout-test/gone --type SecureString --value ...`) or fix --secret FANOUT_T_GONE=...\n");
    // Only the client's lookups: no worker read anything, and no run was planned.
    expect(ssm.reads.slice(from).sort()).toEqual(["/fanout-test/gone", "/fanout-test/key"]);
    expect(runsIn(STORE)).toEqual(before);
  });

  it("sets defaults.env, --env-file, --env and --secret in process.env for each chunk, reading the secret once per process", async () => {
    const from = ssm.reads.length;
    const envFile = path.join(STORE, "test.env");
    fs.writeFileSync(envFile, `# comment\nFANOUT_T_WHERE=from-the-file\nFANOUT_T_TOKEN="overridden below"\n`);
    const res = await fanout(
      ["run", "test/fixtures/vars/env-job.ts", "--store", STORE, "--processes", "1", "-q", "--json", "--env-file", envFile, "--env", `FANOUT_T_TOKEN=${TOKEN}`, "--secret", "FANOUT_T_KEY=ssm:/fanout-test/key"],
      { env: awsEnv },
    );
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { result: unknown[]; summary: { runId: string } };
    expect(out.result).toEqual(Array(4).fill({ where: "from-the-file", token: rev(TOKEN), key: rev(KEY) }));
    // Looked up once by the client before dispatch; then, one process: read once by the worker and cached for the others.
    expect(ssm.reads.slice(from)).toEqual(["/fanout-test/key", "/fanout-test/key"]);
    const runId = out.summary.runId;

    // Never in clear: not in the store (manifest, results, logs), nor in logs, status or --json.
    expect(res.stdout).not.toContain(TOKEN);
    const stored = allText(STORE).replace(fs.readFileSync(envFile, "latin1"), "");
    expect(stored).not.toContain(TOKEN);
    expect(stored).not.toContain(KEY);
    const logs = await fanout(["logs", runId, "0", "--store", STORE]);
    expect(logs.stdout).toContain("token is ***");
    expect(logs.stdout).toContain("key is ***");
    const status = await fanout(["status", runId, "--store", STORE, "--json"]);
    expect(JSON.parse(status.stdout).env).toEqual(["FANOUT_T_WHERE=***", "FANOUT_T_TOKEN=***", "FANOUT_T_KEY=***"]);
    const text = await fanout(["status", runId, "--store", STORE]);
    expect(text.stdout).toContain("env: FANOUT_T_WHERE=*** FANOUT_T_TOKEN=*** FANOUT_T_KEY=***");
  });

  it("reads a Secrets Manager secret through Parameter Store's reference path, and redacts a failing chunk's error", async () => {
    const res = await fanout(
      ["run", "test/fixtures/vars/env-job.ts", "--store", STORE, "--json", "--env", `FANOUT_T_TOKEN=${TOKEN}`, "--env", "FANOUT_T_FAIL=2", "--secret", "FANOUT_T_KEY=secretsmanager:fanout-test-sm"],
      { env: awsEnv },
    );
    expect(res.code).toBe(1);
    expect(ssm.reads).toContain("/aws/reference/secretsmanager/fanout-test-sm");
    expect(res.stderr).toContain("chunk 2 failed: Error: failing with ***");
    expect(res.stderr + res.stdout).not.toContain(TOKEN);
    expect(allText(STORE)).not.toContain(TOKEN);
  });
});
