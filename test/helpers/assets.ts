// Shared by the asset tests: the exact answer of test/fixtures/assets/job.ts, computed here
// from the fixture's files, and a job (in a folder of its own) whose one asset has fresh bytes.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "./cli.js";

const DIR = path.join(ROOT, "test/fixtures/assets");

/** sum(model bytes) * sum(weights in tables/*.json), as the job's reduce gives it. */
export function expectedTotal(): number {
  const model = fs.readFileSync(path.join(DIR, "model.bin"));
  let scale = 0;
  for (const t of ["a.json", "b.json"]) scale += (JSON.parse(fs.readFileSync(path.join(DIR, "tables", t), "utf8")) as { weights: number[] }).weights.reduce((a, b) => a + b, 0);
  return model.reduce((a, b) => a + b, 0) * scale;
}

/** A job in `dir` shipping one asset of random bytes (so no worker has seen it); its store key. */
export function freshAssetJob(dir: string): { job: string; key: string; bytes: Buffer } {
  const bytes = randomBytes(64);
  fs.writeFileSync(path.join(dir, "weights.bin"), bytes);
  const job = path.join(dir, "fresh.ts");
  fs.writeFileSync(job, `import * as fs from "node:fs";\nimport { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, 2), assets: ["weights.bin"], map: (c, ctx) => fs.readFileSync(ctx.asset("weights.bin")).length });\n`);
  return { job, key: `inputs/${createHash("sha256").update(bytes).digest("hex")}`, bytes };
}
