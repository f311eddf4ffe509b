import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { emulatedBucket, s3DataDir } from "../../../dist/src/compute/aws/s3rver.js";

describe("s3DataDir", () => {
  it("keeps a folder it was given", () => {
    const given = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-given-"));
    try {
      const d = s3DataDir(given);
      expect(d.dir).toBe(given);
      d.remove();
      expect(fs.existsSync(given)).toBe(true);
    } finally {
      fs.rmSync(given, { recursive: true, force: true });
    }
  });

  it("makes a temp folder of its own and removes it", () => {
    const d = s3DataDir(undefined);
    expect(path.dirname(d.dir)).toBe(os.tmpdir());
    expect(path.basename(d.dir)).toMatch(/^fanout-s3-/);
    fs.writeFileSync(path.join(d.dir, "object"), "x");
    d.remove();
    expect(fs.existsSync(d.dir)).toBe(false);
  });
});

describe("emulatedBucket", () => {
  it("names the emulated stage's bucket fanout-runs-<stage>", () => {
    expect(emulatedBucket()).toBe("fanout-runs-dev");
    expect(emulatedBucket("t42")).toBe("fanout-runs-t42");
  });
});
