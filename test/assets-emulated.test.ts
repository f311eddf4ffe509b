// Files a chunk needs, on the emulated stack: the Lambda worker fetches each asset from S3
// once per environment into its cache folder (/tmp on Lambda), checks its sha256 and gives
// ctx.asset that local copy; a stored object that changed is refused; and a job that reads a
// file next to it by a relative path (which works on the local backend) fails there with the
// "ship it with assets" hint, since worker/emulated.ts runs it from an empty folder as Lambda
// runs it from /var/task.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { fanout } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { expectedTotal, freshAssetJob } from "./helpers/assets.js";
import { tmpDir } from "./helpers/tmp.js";

const emulated = emulatorForFile();

describe("assets on the emulated stack", () => {
  it("fetches model.bin and tables/*.json into the worker's cache folder: the exact answer", async () => {
    const res = await fanout(["run", "test/fixtures/assets/job.ts", "--backend", "emulated", "-q", "--json"], { env: emulated.current.env });
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { result: { total: number; models: string[] } };
    expect(out.result.total).toBe(expectedTotal());
    // The copies live in the worker's cache folder, named by hash, and hold the job's file.
    for (const m of out.result.models) {
      expect(path.dirname(m)).toBe(path.join(os.tmpdir(), "fanout-assets"));
      expect(fs.readFileSync(m).equals(fs.readFileSync("test/fixtures/assets/model.bin"))).toBe(true);
    }
  });

  it("refuses an asset whose stored object changed, naming the asset", async () => {
    const { emu, env } = emulated.current;
    const dir = tmpDir("fanout-assets-emu-");
    try {
      const { job, key } = freshAssetJob(dir);
      const s3 = new S3Client({ region: emu.region, endpoint: emu.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
      await s3.send(new PutObjectCommand({ Bucket: emu.bucket, Key: key, Body: "tampered" }));
      s3.destroy();
      const res = await fanout(["run", job, "--backend", "emulated", "-q"], { env });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(new RegExp(`chunk \\d failed: AssetIntegrityError: asset weights\\.bin \\(${key}\\) has sha256 [0-9a-f]{64}, not the ${key.slice(7)} the run uploaded`));
      expect(res.stderr).toContain("— delete that object from the store, then start a new run (it uploads the job's file again)");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a relative fs read that works locally fails on the Lambda worker with the ship-it hint", async () => {
    const res = await fanout(["run", "test/fixtures/assets/reads-relative.ts", "--backend", "emulated", "-q"], { env: emulated.current.env });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("ENOENT: no such file or directory, open 'test/fixtures/assets/tables/a.json'; a relative path is read from the worker's working directory");
    expect(res.stderr).toContain("ship it with assets: [...] in defineJob");
  });
});
