// `fanout logs -f` on the emulated AWS stack: the Lambda worker writes a running chunk's new
// lines to S3 as numbered parts, so a line shows before the chunk ends.
import { describe, expect, it } from "vitest";
import { emulatorForFile } from "./helpers/emulator.js";
import { followLiveLines } from "./helpers/follow.js";

const emulated = emulatorForFile();

describe("live logs (emulated stack)", () => {
  it("logs -f prints a chunk's line before that chunk ends, and every line once", async () => {
    const f = await followLiveLines(["--backend", "emulated"], emulated.current.env);
    expect(f.runCode).toBe(0);
    expect(f.followCode).toBe(0);
    expect(f.beginSeenAt).toBeGreaterThan(0);
    expect(f.beginSeenAt).toBeLessThan(f.chunk0EndedAt);
    expect(f.lines).toEqual(["begin 0", "end 0"]);
  }, 120_000);
});
