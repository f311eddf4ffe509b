// Secrets, files and assets on the emulated stack, checked end to end through the real CLI.
// The stack serves no SSM, so it is started with a loopback fake (test/helpers/fake-ssm.ts)
// named by AWS_ENDPOINT_URL_SSM, the SDK's per-service endpoint variable: the emulated
// worker (worker/emulated.ts keeps that one variable beside Lambda's own) reads --secret
// there with its own SDK call, and FANOUT_EMULATOR carries it to the client, which looks each
// secret up before dispatch. On the local backend the same job folder just works.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fanout, ROOT } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { startFakeSsm, type FakeSsm } from "./helpers/fake-ssm.js";
import { tmpDir } from "./helpers/tmp.js";

const TOKEN = "s3cr3t-token-value";
const KEY = "k3y-read-by-the-lambda-worker";
const rev = (s: string) => [...s].reverse().join("");
const FILES = path.join(ROOT, "test/fixtures/files");

let ssm: FakeSsm;
beforeAll(async () => {
  ssm = await startFakeSsm({ "/fanout-test/key": KEY });
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
});
const emulated = emulatorForFile();
// The stack took the endpoint when it started; the CLI runs below know it only from FANOUT_EMULATOR.
beforeAll(() => void delete process.env.AWS_ENDPOINT_URL_SSM);
afterAll(async () => {
  await ssm.close();
});

/** Every file under `dir`, read as text. */
function allText(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), "latin1"))
    .join("\n");
}

describe("secrets on the emulated stack", () => {
  it("the Lambda worker reads --secret from the stack's SSM: the exact value in the chunk, masked in logs, status and --json", async () => {
    const { env, emu } = emulated.current;
    const from = ssm.reads.length;
    const res = await fanout(["run", "test/fixtures/vars/env-job.ts", "--backend", "emulated", "-q", "--json", "--env", `FANOUT_T_TOKEN=${TOKEN}`, "--secret", "FANOUT_T_KEY=ssm:/fanout-test/key"], { env });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { result: unknown[]; summary: { runId: string } };
    expect(out.result).toEqual(Array(4).fill({ where: "job-default", token: rev(TOKEN), key: rev(KEY) }));
    // The client's lookup before dispatch, then one read by the warm worker, cached for the other chunks.
    expect(ssm.reads.slice(from)).toEqual(["/fanout-test/key", "/fanout-test/key"]);
    expect(res.stdout).not.toContain(KEY);
    const logs = await fanout(["logs", out.summary.runId, "2", "--backend", "emulated"], { env });
    expect(logs.stdout).toContain("key is ***");
    expect(logs.stdout).not.toContain(KEY);
    const status = await fanout(["status", out.summary.runId, "--backend", "emulated", "--json"], { env });
    expect(JSON.parse(status.stdout).env).toEqual(["FANOUT_T_WHERE=***", "FANOUT_T_TOKEN=***", "FANOUT_T_KEY=***"]);
    expect(status.stdout).not.toContain(KEY);
    // Nor in the run's objects (manifest, results, logs) in the emulated S3.
    expect(allText(emu.dir)).not.toContain(KEY);
  });

  it("a secret the stack's SSM does not have stops the run before any chunk runs", async () => {
    const from = ssm.reads.length;
    const res = await fanout(["run", "test/fixtures/vars/env-job.ts", "--backend", "emulated", "-q", "--secret", "FANOUT_T_KEY=ssm:/fanout-test/gone"], { env: emulated.current.env });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      "fanout: secret FANOUT_T_KEY (ssm:/fanout-test/gone) does not exist: no parameter /fanout-test/gone in us-east-1 — create it in us-east-1 (`aws ssm put-parameter --name /fanout-test/gone --type SecureString --value ...`) or fix --secret FANOUT_T_KEY=...\n",
    );
    // The client's lookup alone: no worker was invoked to read it.
    expect(ssm.reads.slice(from)).toEqual(["/fanout-test/gone"]);
  });
});

describe("files a remote job needs, checked before dispatch", () => {
  it("a job reading ./data.csv beside it works locally, and stops on the emulated stack with the assets line", async () => {
    const store = tmpDir("fanout-files-");
    try {
      const local = await fanout(["run", "reads-data.ts", "--store", store, "-q", "--json"], { cwd: FILES });
      expect(local.code, local.stderr).toBe(0);
      expect(JSON.parse(local.stdout).result).toBe(3 + 5 + 7 + 11);
    } finally {
      fs.rmSync(store, { recursive: true, force: true });
    }
    const remote = await fanout(["run", "reads-data.ts", "--backend", "emulated", "-q"], { cwd: FILES, env: emulated.current.env });
    expect(remote.code).toBe(2);
    expect(remote.stderr).toBe('fanout: reads-data.ts: reads ./data.csv from disk, which the workers will not have — ship it with assets: ["data.csv"] and open it with ctx.asset("data.csv")\n');
  });

  it("a 20 MB asset reaches the Lambda worker through S3 ranged reads, byte for byte", async () => {
    const dir = tmpDir("fanout-mid-asset-");
    try {
      const bytes = randomBytes(20 * 1024 * 1024 + 3);
      fs.writeFileSync(path.join(dir, "weights.bin"), bytes);
      fs.writeFileSync(
        path.join(dir, "mid.ts"),
        `import * as fs from "node:fs";\nimport { createHash } from "node:crypto";\nimport { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, 2), assets: ["weights.bin"], map: (c, ctx) => createHash("sha256").update(fs.readFileSync(ctx.asset("weights.bin"))).digest("hex") });\n`,
      );
      const res = await fanout(["run", path.join(dir, "mid.ts"), "--backend", "emulated", "-q", "--json"], { env: emulated.current.env });
      expect(res.code, res.stderr).toBe(0);
      const sha = createHash("sha256").update(bytes).digest("hex");
      expect(JSON.parse(res.stdout).result).toEqual([sha, sha]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("assets that cannot fit a default function's 512 MB of /tmp stop the run before anything is hashed or uploaded", async () => {
    const dir = tmpDir("fanout-big-asset-");
    try {
      fs.writeFileSync(path.join(dir, "big.ts"), `import { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, 2), assets: ["a.bin", "b.bin"], map: (c) => c.end - c.start });\n`);
      // Sparse files: 600 MB on paper, nothing on disk.
      for (const [name, mb] of [["a.bin", 100], ["b.bin", 500]] as const) {
        fs.closeSync(fs.openSync(path.join(dir, name), "w"));
        fs.truncateSync(path.join(dir, name), mb * 1024 * 1024);
      }
      const res = await fanout(["run", path.join(dir, "big.ts"), "--backend", "emulated", "-q"], { env: emulated.current.env });
      expect(res.code).toBe(2);
      expect(res.stderr).toBe(
        "fanout: the job's assets total 600.0 MB, more than the 512 MB of /tmp a worker has (biggest asset: b.bin, 500.0 MB) — ship less, or give the workers more /tmp: `fanout deploy --tmp <MB>` (up to 10240)\n",
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("assets that fit alone but not beside the native packages unpacked in /tmp stop the run, counting both", async () => {
    // Inside the project, so the job's import of @node-rs/crc32 resolves to its node_modules.
    const dir = fs.mkdtempSync(path.join(ROOT, "test", ".tmp-tmpfit-"));
    try {
      fs.writeFileSync(
        path.join(dir, "both.ts"),
        `import { crc32 } from "@node-rs/crc32";\nimport { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, 2), assets: ["w.bin"], map: (c) => crc32(String(c.start)) });\n`,
      );
      // 511.9 MB on paper (sparse): under 512 MB alone, over it with the packages' 0.6 MB.
      fs.closeSync(fs.openSync(path.join(dir, "w.bin"), "w"));
      fs.truncateSync(path.join(dir, "w.bin"), Math.round(511.9 * 1024 * 1024));
      const res = await fanout(["run", path.join(dir, "both.ts"), "--backend", "emulated", "-q"], { env: emulated.current.env });
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toMatch(
        /^fanout: the job's assets \(511\.9 MB\) and native packages \(0\.\d MB unpacked\) total 512\.\d MB, more than the 512 MB of \/tmp a worker has \(biggest asset: w\.bin, 511\.9 MB\) — ship less/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
