// Live output from inside running chunks on the emulated AWS stack. A RequestResponse
// invocation says nothing until it ends, so the Lambda worker writes a running chunk's new lines
// and latest ctx.progress to S3 as numbered parts: `fanout logs -f` shows a line before the
// chunk ends, the client reads progress back from them, and the worker removes them once the
// chunk's outcome (which holds every line) is stored.
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { run, type Progress } from "fanout";
import { ROOT } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { withEnv } from "./helpers/env.js";
import { followLiveLines } from "./helpers/follow.js";

const emulated = emulatorForFile();

/** The run's live parts left in the emulated bucket. */
async function liveParts(runId: string): Promise<string[]> {
  const { emu } = emulated.current;
  const s3 = new S3Client({ region: emu.region, endpoint: emu.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  try {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: emu.bucket, Prefix: runId ? `runs/${runId}/live/` : "runs/" }));
    return (page.Contents ?? []).map((o) => o.Key!);
  } finally {
    s3.destroy();
  }
}

describe("live logs and progress (emulated stack)", () => {
  it("logs -f prints a chunk's line before that chunk ends, and every line once; the parts are gone afterwards", async () => {
    const f = await followLiveLines(["--backend", "emulated"], emulated.current.env);
    expect(f.runCode).toBe(0);
    expect(f.followCode).toBe(0);
    expect(f.beginSeenAt).toBeGreaterThan(0);
    expect(f.beginSeenAt).toBeLessThan(f.chunk0EndedAt);
    expect(f.lines).toEqual(["begin 0", "end 0"]);
    expect(await liveParts(f.runId)).toEqual([]);
  }, 120_000);

  it("ctx.progress in Lambda chunks moves the progress before the first chunk ends", async () => {
    const seen: Progress[] = [];
    const res = await withEnv(emulated.current.env, () =>
      run<number>("test/fixtures/progress-slow.ts", { cwd: ROOT, backend: "emulated", chunks: 4, concurrency: 4, speculate: false, onProgress: (p) => seen.push({ ...p }) }),
    );
    expect(res.result).toBe(0 + 1 + 2 + 3);
    const early = seen.filter((p) => p.done === 0 && (p.partial ?? 0) > 0);
    expect(early.length, JSON.stringify(seen.slice(0, 12))).toBeGreaterThan(0);
    for (const p of early) expect(p.partial!).toBeLessThanOrEqual(p.running);
    expect(await liveParts(res.summary.runId)).toEqual([]);
  }, 120_000);
});
